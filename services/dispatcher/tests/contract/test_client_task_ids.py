"""One contract, two records of the client task ids platforms used: in memory and in
PostgreSQL; and what only the PostgreSQL one does (schemas apart, replicas starting together,
the ids earlier versions kept in Redis read and moved over, an unreachable server)."""

import asyncio
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis

from dispatcher.adapters.memory_client_tasks import MemoryClientTaskIds
from dispatcher.adapters.postgres_client_tasks import DEFAULT_MIGRATIONS, PostgresClientTaskIds
from dispatcher.adapters.redis_client_hashes import (
    RedisClientHashes,
    WithRedisHashes,
    move_client_ids,
)
from dispatcher.domain.errors import SubmissionsUnavailableError
from dispatcher.service_layer.ports import Accepted, ClientTaskIds, ClientTaskRecord
from fairtask_localstack.ports import free_ports
from fairtask_runtime.postgres import PostgresConfig, PostgresPool

PLATFORM, OTHER = "lab-a", "lab-b"


def printed(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def accepted(client_id: str, content: str = "img") -> Accepted:
    return Accepted(client_id, f"task-{client_id}", printed(content), "bbox")


def postgres_store(dsn: str, schema: str, timeout_s: float = 10.0) -> PostgresClientTaskIds:
    config = PostgresConfig(
        dsn, "dispatcher-test", DEFAULT_MIGRATIONS, schema=schema, timeout_s=timeout_s
    )
    return PostgresClientTaskIds(PostgresPool(config, SubmissionsUnavailableError))


async def drop(dsn: str, schemas: list[str]) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', timeout=10)
    finally:
        await conn.close()


@pytest.fixture
async def schemas(stack_endpoints: Any) -> AsyncIterator[list[str]]:
    """Schema names for the test, dropped after it."""
    made: list[str] = []
    yield made
    await drop(stack_endpoints.postgres_dsn, made)


def new_schema(schemas: list[str]) -> str:
    schemas.append(f"t{uuid.uuid4().hex[:8]}")
    return schemas[-1]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
async def ids(request: pytest.FixtureRequest) -> AsyncIterator[ClientTaskIds]:
    if request.param == "memory":
        yield MemoryClientTaskIds()
        return
    endpoints: Any = request.getfixturevalue("stack_endpoints")
    made: list[str] = []
    store = postgres_store(endpoints.postgres_dsn, new_schema(made))
    try:
        yield store
    finally:
        await store.close()
        await drop(endpoints.postgres_dsn, made)


def claimed(content: str = "img") -> ClientTaskRecord:
    return ClientTaskRecord(printed(content), published=False)


def published(content: str = "img") -> ClientTaskRecord:
    return ClientTaskRecord(printed(content), published=True)


async def test_a_claim_is_recorded_per_platform(ids: ClientTaskIds) -> None:
    assert await ids.recorded(PLATFORM, ["c1"]) == {}

    assert await ids.claim(PLATFORM, [accepted("c1")]) == {}

    assert await ids.recorded(PLATFORM, ["c1", "c2"]) == {"c1": claimed()}
    assert await ids.recorded(OTHER, ["c1"]) == {}
    assert await ids.recorded(PLATFORM, []) == {}


async def test_an_id_claimed_before_keeps_its_content_and_the_claim_says_so(
    ids: ClientTaskIds,
) -> None:
    await ids.claim(PLATFORM, [accepted("c1", "first")])

    taken = await ids.claim(PLATFORM, [accepted("c1", "second"), accepted("c2", "other")])

    assert taken == {"c1": printed("first")}
    assert await ids.recorded(PLATFORM, ["c1", "c2"]) == {
        "c1": claimed("first"),
        "c2": claimed("other"),
    }


async def test_a_claim_becomes_published_once(ids: ClientTaskIds) -> None:
    await ids.claim(PLATFORM, [accepted("c1"), accepted("c2")])

    await ids.mark_published(PLATFORM, [accepted("c1")])
    await ids.mark_published(PLATFORM, [accepted("c1")])

    assert await ids.recorded(PLATFORM, ["c1", "c2"]) == {"c1": published(), "c2": claimed()}


async def test_publishing_an_id_never_claimed_records_it(ids: ClientTaskIds) -> None:
    await ids.mark_published(PLATFORM, [accepted("c1")])

    assert await ids.recorded(PLATFORM, ["c1"]) == {"c1": published()}


async def test_publishing_never_changes_an_ids_content(ids: ClientTaskIds) -> None:
    await ids.claim(PLATFORM, [accepted("c1", "first")])

    await ids.mark_published(PLATFORM, [accepted("c1", "second")])

    assert await ids.recorded(PLATFORM, ["c1"]) == {"c1": claimed("first")}


@pytest.mark.integration
async def test_dispatchers_with_other_schemas_keep_their_ids_apart(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    mine = postgres_store(stack_endpoints.postgres_dsn, new_schema(schemas))
    theirs = postgres_store(stack_endpoints.postgres_dsn, new_schema(schemas))
    try:
        await mine.claim(PLATFORM, [accepted("c1")])

        assert await theirs.recorded(PLATFORM, ["c1"]) == {}
        assert await mine.recorded(PLATFORM, ["c1"]) == {"c1": claimed()}
    finally:
        await mine.close()
        await theirs.close()


@pytest.mark.integration
async def test_replicas_starting_together_share_one_table(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    schema = new_schema(schemas)
    replicas = [postgres_store(stack_endpoints.postgres_dsn, schema) for _ in range(4)]
    try:
        await asyncio.gather(*(r.start() for r in replicas))
        await replicas[0].claim(PLATFORM, [accepted("c1")])

        for replica in replicas:
            assert await replica.recorded(PLATFORM, ["c1"]) == {"c1": claimed()}
    finally:
        await asyncio.gather(*(r.close() for r in replicas))
    conn = await asyncpg.connect(stack_endpoints.postgres_dsn, timeout=10)
    try:
        applied = await conn.fetchval(f'SELECT count(*) FROM "{schema}".schema_migrations')
    finally:
        await conn.close()
    assert applied == len(list(DEFAULT_MIGRATIONS.glob("*.sql")))


@pytest.mark.integration
async def test_calls_claiming_overlapping_batches_at_once_each_id_goes_to_one(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    store = postgres_store(stack_endpoints.postgres_dsn, new_schema(schemas))
    batches = [[accepted(f"c{(i * 7 + j) % 40}", f"call {i}") for j in range(20)] for i in range(8)]
    try:
        results = await asyncio.gather(*(store.claim(PLATFORM, b) for b in batches))
        recorded = await store.recorded(PLATFORM, [f"c{i}" for i in range(40)])
    finally:
        await store.close()

    for batch, taken in zip(batches, results, strict=True):
        for a in batch:
            # Either this call claimed it (its content) or it was told whose it is.
            winner = recorded[a.client_task_id].fingerprint
            assert taken.get(a.client_task_id, a.fingerprint) == winner
    winners = {r.fingerprint for r in recorded.values()}
    assert winners <= {printed(f"call {i}") for i in range(8)}


@pytest.mark.integration
async def test_ids_earlier_versions_keep_in_redis_count_as_published_until_moved(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    client = redis.from_url(stack_endpoints.redis_url)
    # More than a page, in the encoding Redis gives a large hash, and a platform of one id.
    many = {f"c{i}": printed(f"content {i}") for i in range(2_500)}
    await client.hset(f"{prefix}client:{PLATFORM}", mapping=many)
    await client.hset(f"{prefix}client:{OTHER}", "x1", printed("x"))
    # Not a hash of ids: left alone.
    await client.set(f"{prefix}client:note", "1")
    store = postgres_store(stack_endpoints.postgres_dsn, new_schema(schemas))
    hashes = RedisClientHashes(client, prefix, page=1_000)
    both = WithRedisHashes(store, hashes)
    try:
        await store.claim(PLATFORM, [accepted("c0", "claimed here first")])
        # Read there before the move: an old replica may still be writing.
        assert await both.recorded(PLATFORM, ["c1", "c0", "new"]) == {
            "c1": ClientTaskRecord(many["c1"], published=True),
            "c0": claimed("claimed here first"),
        }

        moved = await move_client_ids(hashes, store)

        assert moved.ids == 2_501
        assert moved.conflicts == [(PLATFORM, "c0")]
        assert await store.recorded(PLATFORM, list(many)) == {
            c: ClientTaskRecord(p, True) for c, p in many.items() if c != "c0"
        } | {"c0": claimed("claimed here first")}
        assert await store.recorded(OTHER, ["x1"]) == {"x1": published("x")}
        left = [key async for key in client.scan_iter(match=f"{prefix}*")]
        assert left == [f"{prefix}client:note".encode()]
        assert (await move_client_ids(hashes, store)).ids == 0
    finally:
        await store.close()
        await client.delete(f"{prefix}client:note")
        await client.aclose()


@pytest.mark.integration
async def test_an_unreachable_server_is_unavailable_not_a_crash(schemas: list[str]) -> None:
    (closed,) = free_ports(1)
    store = postgres_store(
        f"postgresql://postgres@127.0.0.1:{closed}/fairtask", new_schema(schemas), timeout_s=1
    )

    # Calls waiting together share one attempt to connect, and its failure.
    calls = [store.recorded(PLATFORM, ["c1"]), store.claim(PLATFORM, [accepted("c1")])]
    failures = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(f) for f in failures] == [SubmissionsUnavailableError] * 2
    with pytest.raises(SubmissionsUnavailableError):
        await store.mark_published(PLATFORM, [accepted("c1")])


@pytest.mark.integration
async def test_the_move_command_moves_what_redis_holds(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    schemas.append(prefix[:-1])
    client = redis.from_url(stack_endpoints.redis_url)
    await client.hset(
        f"{prefix}client:{PLATFORM}", mapping={"c1": printed("a"), "c2": printed("b")}
    )
    env = {
        **os.environ,
        "FAIRTASK_REDIS_URL": stack_endpoints.redis_url,
        "FAIRTASK_REDIS_PREFIX": prefix,
        "FAIRTASK_POSTGRES_DSN": stack_endpoints.postgres_dsn,
        "FAIRTASK_LOG_JSON": "false",
    }
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "dispatcher.move_client_ids"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert f"moved 2 client task ids to PostgreSQL ({prefix[:-1]})" in done.stdout
        store = postgres_store(stack_endpoints.postgres_dsn, prefix[:-1])
        try:
            assert await store.recorded(PLATFORM, ["c1", "c2"]) == {
                "c1": published("a"),
                "c2": published("b"),
            }
        finally:
            await store.close()
        assert await client.exists(f"{prefix}client:{PLATFORM}") == 0
    finally:
        await client.aclose()
