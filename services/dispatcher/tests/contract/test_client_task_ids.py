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
from contextlib import asynccontextmanager
from typing import Any
from unittest import mock

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
from dispatcher.domain.model import TaskState, TaskStatus, task_id_for
from dispatcher.service_layer.ports import (
    Accepted,
    ClientTaskIds,
    ClientTaskRecord,
    IdState,
    TaskOutcome,
)
from fairtask_localstack.ports import free_ports
from fairtask_runtime.answers import answer_task_id
from fairtask_runtime.postgres import PostgresConfig, PostgresPool

PLATFORM, OTHER = "lab-a", "lab-b"
NOTHING = TaskStatus("", "", "", TaskState.QUEUED, "")


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


@asynccontextmanager
async def replicas_of(
    dsn: str, schema: str, count: int
) -> AsyncIterator[list[PostgresClientTaskIds]]:
    """`count` dispatcher replicas' records on one schema, closed afterwards."""
    replicas = [postgres_store(dsn, schema) for _ in range(count)]
    try:
        yield replicas
    finally:
        await asyncio.gather(*(r.close() for r in replicas))


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


def publishing(content: str = "img") -> ClientTaskRecord:
    return ClientTaskRecord(printed(content), IdState.PUBLISHING)


def bound_as(a: Accepted) -> ClientTaskRecord:
    return ClientTaskRecord(a.fingerprint, IdState.PUBLISHING)


def published(content: str = "img") -> ClientTaskRecord:
    return ClientTaskRecord(printed(content), IdState.PUBLISHED)


async def test_a_bound_id_is_recorded_per_platform(ids: ClientTaskIds) -> None:
    assert await ids.recorded(PLATFORM, ["c1"]) == {}

    assert await ids.start_publishing(PLATFORM, [accepted("c1")]) == {}

    assert await ids.recorded(PLATFORM, ["c1", "c2"]) == {"c1": publishing()}
    assert await ids.recorded(OTHER, ["c1"]) == {}
    assert await ids.recorded(PLATFORM, []) == {}


async def test_binding_is_all_or_none_and_names_the_ids_bound_to_other_content(
    ids: ClientTaskIds,
) -> None:
    await ids.start_publishing(PLATFORM, [accepted("c1", "first")])

    others = await ids.start_publishing(
        PLATFORM, [accepted("c0", "other"), accepted("c1", "second"), accepted("c1x", "x")]
    )

    assert others == {"c1": printed("first")}
    assert await ids.recorded(PLATFORM, ["c0", "c1", "c1x"]) == {"c1": publishing("first")}
    # The same content binds again, harmlessly: a call publishing what another began.
    assert await ids.start_publishing(PLATFORM, [accepted("c1", "first")]) == {}


async def test_a_bound_id_becomes_published_once(ids: ClientTaskIds) -> None:
    await ids.start_publishing(PLATFORM, [accepted("c1"), accepted("c2")])

    await ids.mark_published(PLATFORM, [accepted("c1")])
    await ids.mark_published(PLATFORM, [accepted("c1")])
    assert await ids.start_publishing(PLATFORM, [accepted("c1")]) == {}

    assert await ids.recorded(PLATFORM, ["c1", "c2"]) == {"c1": published(), "c2": publishing()}


async def test_publishing_an_id_never_bound_records_it(ids: ClientTaskIds) -> None:
    await ids.mark_published(PLATFORM, [accepted("c1")])

    assert await ids.recorded(PLATFORM, ["c1"]) == {"c1": published()}


async def test_publishing_never_changes_an_ids_content(ids: ClientTaskIds) -> None:
    await ids.start_publishing(PLATFORM, [accepted("c1", "first")])

    await ids.mark_published(PLATFORM, [accepted("c1", "second")])

    assert await ids.recorded(PLATFORM, ["c1"]) == {"c1": publishing("first")}


async def test_what_became_of_a_task_is_kept_for_its_platform(ids: ClientTaskIds) -> None:
    done, cancelled, late, waiting = (accepted(c) for c in ("done", "cxl", "late", "wait"))
    await ids.start_publishing(PLATFORM, [done, cancelled, late, waiting])
    await ids.mark_published(PLATFORM, [done, cancelled, late, waiting])
    done_id, cancelled_id, late_id, waiting_id = (
        task_id_for(PLATFORM, c) for c in ("done", "cxl", "late", "wait")
    )
    copy_id = answer_task_id(done_id, 2)  # a further answer's copy: no platform task of its own

    await ids.record_outcomes(
        [
            TaskOutcome(done_id, TaskState.SUBMITTED, "w-7"),
            TaskOutcome(cancelled_id, TaskState.CANCELLED),
            TaskOutcome(late_id, TaskState.EXPIRED),
            TaskOutcome(copy_id, TaskState.SUBMITTED, "w-8"),
            TaskOutcome("not-a-task-id", TaskState.CANCELLED),
        ]
    )

    assert await ids.outcome(PLATFORM, done_id) == TaskStatus(
        done_id, "done", "bbox", TaskState.SUBMITTED, "w-7"
    )
    assert await ids.outcome(PLATFORM, cancelled_id) == TaskStatus(
        cancelled_id, "cxl", "bbox", TaskState.CANCELLED, ""
    )
    assert (await ids.outcome(PLATFORM, late_id) or NOTHING).state is TaskState.EXPIRED
    # Not done yet, a copy, another platform's, never known: nothing said.
    for platform, task_id in (
        (PLATFORM, waiting_id),
        (PLATFORM, copy_id),
        (OTHER, done_id),
        (PLATFORM, str(uuid.uuid4())),
        (PLATFORM, "not-a-task-id"),
        (PLATFORM, "{" + done_id + "}"),  # a uuid in another spelling: no such task
    ):
        assert await ids.outcome(platform, task_id) is None


async def test_an_id_whose_task_is_done_is_published_though_never_marked(
    ids: ClientTaskIds,
) -> None:
    # The calls that published these failed before marking them (PostgreSQL, or the process).
    await ids.start_publishing(PLATFORM, [accepted("done"), accepted("cxl"), accepted("wait")])

    await ids.record_outcomes(
        [
            TaskOutcome(task_id_for(PLATFORM, "done"), TaskState.SUBMITTED, "w-1"),
            TaskOutcome(task_id_for(PLATFORM, "cxl"), TaskState.CANCELLED),
        ]
    )

    assert await ids.recorded(PLATFORM, ["done", "cxl", "wait"]) == {
        "done": published(),
        "cxl": published(),
        "wait": publishing(),
    }


async def test_a_submission_is_final(ids: ClientTaskIds) -> None:
    first, second = accepted("c1"), accepted("c2")
    await ids.start_publishing(PLATFORM, [first, second])
    first_id, second_id = task_id_for(PLATFORM, "c1"), task_id_for(PLATFORM, "c2")

    await ids.record_outcomes(
        [
            TaskOutcome(first_id, TaskState.SUBMITTED, "w-1"),
            TaskOutcome(first_id, TaskState.CANCELLED),  # in the same batch, after it
        ]
    )
    await ids.record_outcomes([TaskOutcome(first_id, TaskState.EXPIRED)])  # a later batch
    await ids.record_outcomes([TaskOutcome(second_id, TaskState.CANCELLED)])
    await ids.record_outcomes([TaskOutcome(second_id, TaskState.SUBMITTED, "w-2")])
    await ids.record_outcomes([TaskOutcome(second_id, TaskState.SUBMITTED, "w-2")])  # again

    assert await ids.outcome(PLATFORM, first_id) == TaskStatus(
        first_id, "c1", "bbox", TaskState.SUBMITTED, "w-1"
    )
    assert await ids.outcome(PLATFORM, second_id) == TaskStatus(
        second_id, "c2", "bbox", TaskState.SUBMITTED, "w-2"
    )


@pytest.mark.integration
async def test_rows_an_earlier_version_bound_take_their_names_from_the_submission(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    # Earlier versions bound ids without the platform's id and the type: a submission names
    # them (GetTask can tell them then); a cancellation, which does not, is passed over.
    schema = new_schema(schemas)
    ids = postgres_store(stack_endpoints.postgres_dsn, schema)
    try:
        await ids.start_publishing(PLATFORM, [accepted("c1"), accepted("c2")])
        conn = await asyncpg.connect(stack_endpoints.postgres_dsn, timeout=10)
        try:
            await conn.execute(
                f'UPDATE "{schema}".client_tasks SET client_task_id = NULL, task_type = NULL'
            )
        finally:
            await conn.close()
        first, second = task_id_for(PLATFORM, "c1"), task_id_for(PLATFORM, "c2")

        await ids.record_outcomes(
            [
                TaskOutcome(first, TaskState.SUBMITTED, "w-1", "c1", "bbox"),
                TaskOutcome(second, TaskState.CANCELLED),
            ]
        )

        assert await ids.outcome(PLATFORM, first) == TaskStatus(
            first, "c1", "bbox", TaskState.SUBMITTED, "w-1"
        )
        assert await ids.outcome(PLATFORM, second) is None
        await ids.record_outcomes([TaskOutcome(second, TaskState.SUBMITTED, "w-2", "c2", "bbox")])
        assert (await ids.outcome(PLATFORM, second) or NOTHING).worker_id == "w-2"
    finally:
        await ids.close()


@pytest.mark.integration
async def test_dispatchers_with_other_schemas_keep_their_ids_apart(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    dsn = stack_endpoints.postgres_dsn
    async with (
        replicas_of(dsn, new_schema(schemas), 1) as [mine],
        replicas_of(dsn, new_schema(schemas), 1) as [theirs],
    ):
        await mine.start_publishing(PLATFORM, [accepted("c1")])

        assert await theirs.recorded(PLATFORM, ["c1"]) == {}
        assert await mine.recorded(PLATFORM, ["c1"]) == {"c1": publishing()}


@pytest.mark.integration
async def test_replicas_starting_together_share_one_table(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    schema = new_schema(schemas)
    async with replicas_of(stack_endpoints.postgres_dsn, schema, 4) as replicas:
        await asyncio.gather(*(r.start() for r in replicas))
        await replicas[0].start_publishing(PLATFORM, [accepted("c1")])

        for replica in replicas:
            assert await replica.recorded(PLATFORM, ["c1"]) == {"c1": publishing()}
    conn = await asyncpg.connect(stack_endpoints.postgres_dsn, timeout=10)
    try:
        applied = await conn.fetchval(f'SELECT count(*) FROM "{schema}".schema_migrations')
    finally:
        await conn.close()
    assert applied == len(list(DEFAULT_MIGRATIONS.glob("*.sql")))


@pytest.mark.integration
async def test_calls_binding_overlapping_batches_at_once_never_share_an_id(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    """Each call binds all of its batch or none of it, whatever the others do at once."""
    batches = [[accepted(f"c{(i * 7 + j) % 40}", f"call {i}") for j in range(20)] for i in range(8)]
    async with replicas_of(stack_endpoints.postgres_dsn, new_schema(schemas), 2) as replicas:
        results = await asyncio.gather(
            *(replicas[i % 2].start_publishing(PLATFORM, b) for i, b in enumerate(batches))
        )
        recorded = await replicas[0].recorded(PLATFORM, [f"c{i}" for i in range(40)])

    for batch, others in zip(batches, results, strict=True):
        mine = {a.client_task_id for a in batch if recorded.get(a.client_task_id) == bound_as(a)}
        if others:
            assert mine == set(), "a refused call bound nothing"
            assert all(recorded[c].fingerprint == p for c, p in others.items())
        else:
            assert mine == {a.client_task_id for a in batch}
    assert any(not others for others in results)


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
        await store.start_publishing(PLATFORM, [accepted("c0", "bound here first")])
        # Read there before the move: an old replica may still be writing.
        assert await both.recorded(PLATFORM, ["c1", "c0", "new"]) == {
            "c1": ClientTaskRecord(many["c1"], IdState.PUBLISHED),
            "c0": publishing("bound here first"),
        }

        moved = await move_client_ids(hashes, store)

        assert moved.ids == 2_501
        assert moved.conflicts == [(PLATFORM, "c0")]
        assert await store.recorded(PLATFORM, list(many)) == {
            c: ClientTaskRecord(p, IdState.PUBLISHED) for c, p in many.items() if c != "c0"
        } | {"c0": publishing("bound here first")}
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
    attempts = 0
    connect = asyncpg.connect

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal attempts
        attempts += 1
        return await connect(*args, **kwargs)

    calls = [store.recorded(PLATFORM, ["c1"]), store.start_publishing(PLATFORM, [accepted("c1")])]
    with mock.patch("asyncpg.connect", counted):
        failures = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(f) for f in failures] == [SubmissionsUnavailableError] * 2
    assert attempts == 1
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


@pytest.mark.integration
async def test_beside_earlier_versions_ids_are_bound_in_redis_too(
    stack_endpoints: Any, schemas: list[str]
) -> None:
    """An earlier replica reads only its hash: while one runs, an id is bound there first, and
    one it bound there with other content is refused."""
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    client = redis.from_url(stack_endpoints.redis_url)
    store = postgres_store(stack_endpoints.postgres_dsn, new_schema(schemas))
    hashes = RedisClientHashes(client, prefix)
    beside = WithRedisHashes(store, hashes, write_too=True)
    try:
        await client.hset(f"{prefix}client:{PLATFORM}", "old", printed("old content"))

        assert await beside.start_publishing(PLATFORM, [accepted("c1"), accepted("old")]) == {
            "old": printed("old content")
        }
        assert await beside.start_publishing(PLATFORM, [accepted("c1")]) == {}

        assert await hashes.fingerprints(PLATFORM, ["c1", "old"]) == {
            "c1": printed("img"),
            "old": printed("old content"),
        }
        assert await store.recorded(PLATFORM, ["c1", "old"]) == {"c1": publishing()}
        # Not beside them: nothing more goes to Redis.
        alone = WithRedisHashes(store, hashes)
        assert await alone.start_publishing(PLATFORM, [accepted("c2")]) == {}
        assert await hashes.fingerprints(PLATFORM, ["c2"]) == {}
    finally:
        await client.delete(f"{prefix}client:{PLATFORM}")
        await store.close()
        await client.aclose()
