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
