"""What a service's PostgreSQL pool tells its callers when the server goes away or comes back."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from fairtask_runtime.postgres import PostgresConfig, PostgresPool
from fairtask_runtime.postgres_migrations import MigrationError
from fairtask_runtime.service import opened_at_start


class UnavailableError(Exception):
    pass


class FailingPool:
    """An open pool whose connections fail with `error`."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    @asynccontextmanager
    async def acquire(self, **_: Any) -> AsyncIterator[Any]:
        raise self.error
        yield


def pool_failing_with(error: BaseException) -> PostgresPool:
    pool = PostgresPool(
        PostgresConfig("postgresql://unused", "test", Path("unused")), UnavailableError
    )
    pool._pool = FailingPool(error)  # type: ignore[assignment]
    return pool


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        ConnectionResetError(),
        TimeoutError(),
    ],
)
async def test_a_server_going_away_is_unavailable_to_retry(error: BaseException) -> None:
    with pytest.raises(UnavailableError, match="reading"):
        async with pool_failing_with(error).connection("reading"):
            pass


async def test_a_mistake_in_the_request_is_not_hidden() -> None:
    with pytest.raises(asyncpg.UndefinedTableError):
        async with pool_failing_with(asyncpg.UndefinedTableError("no such table")).connection(
            "reading"
        ):
            pass


async def test_a_closed_pool_opens_nothing_again() -> None:
    pool = PostgresPool(
        PostgresConfig("postgresql://127.0.0.1:1/none", "test", Path("unused")), UnavailableError
    )
    await pool.close()

    with pytest.raises(UnavailableError, match="stopping"):
        await pool.ready()


async def test_a_store_is_opened_at_start_once_the_server_answers() -> None:
    attempts: list[int] = []

    async def start() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise UnavailableError("not yet")

    loop = asyncio.create_task(opened_at_start("store", start, UnavailableError)())
    await asyncio.sleep(1.0)  # 0.2 s, then 0.4 s between attempts

    assert len(attempts) == 3
    assert not loop.done(), "idles once open: the runtime ends the service when a loop returns"
    loop.cancel()


async def test_an_error_that_is_not_unavailability_ends_the_loop() -> None:
    async def start() -> None:
        raise MigrationError("a migration changed after it was applied")

    with pytest.raises(MigrationError):
        await opened_at_start("store", start, UnavailableError)()


@asynccontextmanager
async def one_connection_pool(dsn: str, tmp_path: Path) -> AsyncIterator[PostgresPool]:
    """A pool of one connection (each call gets the one before it), in a schema of its own
    with one table, `marks`."""
    (tmp_path / "0001_marks.sql").write_text("CREATE TABLE marks (n int);\n")
    schema = f"pool_{tmp_path.name.lower().replace('-', '_')}"[:60]
    pool = PostgresPool(
        PostgresConfig(dsn, "pool-test", tmp_path, schema, max_pool_size=1), UnavailableError
    )
    try:
        yield pool
    finally:
        await pool.close()
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest.mark.integration
async def test_a_connection_given_back_mid_transaction_is_rolled_back(
    stack_endpoints: Any, tmp_path: Path
) -> None:
    async with one_connection_pool(stack_endpoints.postgres_dsn, tmp_path) as pool:
        async with pool.connection("leaving a transaction open") as conn:
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO marks VALUES (1)")

        async with pool.connection("reading") as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM marks") == 0


@pytest.mark.integration
async def test_a_connection_goes_back_to_the_pool_without_a_round_trip(
    stack_endpoints: Any, tmp_path: Path
) -> None:
    async with one_connection_pool(stack_endpoints.postgres_dsn, tmp_path) as pool:
        async with pool.connection("asking who we are") as conn:
            backend = await conn.fetchval("SELECT pg_backend_pid()")
        async with pool.connection("watching") as conn:
            # The pool's one connection again, given back once already and soon twice.
            assert await conn.fetchval("SELECT pg_backend_pid()") == backend
        # The server's record of what that backend ran last: a reset on release would be the
        # last word (asyncpg's default: advisory locks, cursors, LISTEN, settings).
        watcher = await asyncpg.connect(stack_endpoints.postgres_dsn, timeout=10)
        try:
            last = await watcher.fetchval(
                "SELECT query FROM pg_stat_activity WHERE pid = $1", backend
            )
        finally:
            await watcher.close()
        assert last == "SELECT pg_backend_pid()"
