"""One contract, two records of the client task ids platforms used: in memory and in
PostgreSQL; and what only the PostgreSQL one does (schemas apart, replicas starting together,
the ids an earlier version kept in Redis moved over, an unreachable server)."""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis

from dispatcher.adapters.memory_client_tasks import MemoryClientTaskIds
from dispatcher.adapters.postgres_client_tasks import DEFAULT_MIGRATIONS, PostgresClientTaskIds
from dispatcher.adapters.redis_client_hashes import RedisClientHashes
from dispatcher.domain.errors import SubmissionsUnavailableError
from dispatcher.service_layer.ports import Accepted, ClientTaskIds
from fairtask_localstack.ports import free_ports
from fairtask_runtime.postgres import PostgresConfig, PostgresPool

PLATFORM, OTHER = "lab-a", "lab-b"


def printed(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def accepted(client_id: str, content: str = "img") -> Accepted:
    return Accepted(client_id, f"task-{client_id}", printed(content), "bbox")


def postgres_store(
    dsn: str, schema: str, earlier: RedisClientHashes | None = None, timeout_s: float = 10.0
) -> PostgresClientTaskIds:
    config = PostgresConfig(
        dsn, "dispatcher-test", DEFAULT_MIGRATIONS, schema=schema, timeout_s=timeout_s
    )
    return PostgresClientTaskIds(PostgresPool(config, SubmissionsUnavailableError), earlier)


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


async def test_ids_are_remembered_per_platform(ids: ClientTaskIds) -> None:
    assert await ids.fingerprints(PLATFORM, ["c1"]) == {}

    await ids.remember(PLATFORM, [accepted("c1")])

    assert await ids.fingerprints(PLATFORM, ["c1", "c2"]) == {"c1": printed("img")}
    assert await ids.fingerprints(OTHER, ["c1"]) == {}
    assert await ids.fingerprints(PLATFORM, []) == {}


async def test_an_id_keeps_its_first_content(ids: ClientTaskIds) -> None:
    await ids.remember(PLATFORM, [accepted("c1", "first"), accepted("c2", "other")])
    await ids.remember(PLATFORM, [accepted("c1", "second"), accepted("c3", "third")])
    await ids.remember(PLATFORM, [])

    assert await ids.fingerprints(PLATFORM, ["c1", "c2", "c3"]) == {
        "c1": printed("first"),
        "c2": printed("other"),
        "c3": printed("third"),
    }


@pytest.mark.integration
async def test_dispatchers_with_other_prefixes_keep_their_ids_apart(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    mine = postgres_store(stack_endpoints.postgres_dsn, new_schema(schemas))
    theirs = postgres_store(stack_endpoints.postgres_dsn, new_schema(schemas))
    try:
        await mine.remember(PLATFORM, [accepted("c1")])

        assert await theirs.fingerprints(PLATFORM, ["c1"]) == {}
        assert await mine.fingerprints(PLATFORM, ["c1"]) == {"c1": printed("img")}
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
        await replicas[0].remember(PLATFORM, [accepted("c1")])

        for replica in replicas:
            assert await replica.fingerprints(PLATFORM, ["c1"]) == {"c1": printed("img")}
    finally:
        await asyncio.gather(*(r.close() for r in replicas))
    conn = await asyncpg.connect(stack_endpoints.postgres_dsn, timeout=10)
    try:
        applied = await conn.fetchval(f'SELECT count(*) FROM "{schema}".schema_migrations')
    finally:
        await conn.close()
    assert applied == len(list(DEFAULT_MIGRATIONS.glob("*.sql")))


@pytest.mark.integration
async def test_ids_an_earlier_version_kept_in_redis_move_to_postgres(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    client = redis.from_url(stack_endpoints.redis_url)
    # More than a page, in the encoding Redis gives a large hash, and a platform of one id.
    many = {f"c{i}": printed(f"content {i}") for i in range(2_500)}
    await client.hset(f"{prefix}client:{PLATFORM}", mapping=many)
    await client.hset(f"{prefix}client:{OTHER}", "x1", printed("x"))
    await client.set(f"{prefix}task:untouched", "1")
    store = postgres_store(
        stack_endpoints.postgres_dsn,
        new_schema(schemas),
        RedisClientHashes(client, prefix, page=1_000),
    )
    try:
        assert await store.fingerprints(PLATFORM, list(many)) == many
        assert await store.fingerprints(OTHER, ["x1"]) == {"x1": printed("x")}
        left = [key async for key in client.scan_iter(match=f"{prefix}*")]
        assert left == [f"{prefix}task:untouched".encode()]
    finally:
        await store.close()
        await client.delete(f"{prefix}task:untouched")
        await client.aclose()


@pytest.mark.integration
async def test_an_unreachable_server_is_unavailable_not_a_crash(schemas: list[str]) -> None:
    (closed,) = free_ports(1)
    store = postgres_store(
        f"postgresql://postgres@127.0.0.1:{closed}/fairtask", new_schema(schemas), timeout_s=1
    )

    with pytest.raises(SubmissionsUnavailableError):
        await store.fingerprints(PLATFORM, ["c1"])
    with pytest.raises(SubmissionsUnavailableError):
        await store.remember(PLATFORM, [accepted("c1")])
