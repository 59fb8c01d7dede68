"""A service's PostgreSQL: its migrations applied, then an asyncpg pool, every call bounded.

Nothing connects at construction: `ready()` (called by the service's start-up loop, or by the
first query, whichever comes first) applies pending migrations on a connection of its own and
then opens the pool. Every query runs under the pool's `command_timeout` plus a server-side
`statement_timeout`, and taking a connection from the pool has its own deadline, so no call
can hang. A service may keep its tables in a schema of its own, created if missing: its
connections then look there first, and its migration history is its own.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from fairtask_runtime.postgres_migrations import (
    MIGRATION_LOCK_KEY,
    load_migrations,
    lock_key_for,
    migrate,
)

log = structlog.get_logger(__name__)

# What says nothing about the request itself: the same call may succeed a moment later.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
    # The server shutting down or starting up (a failover), a query cancelled by it.
    asyncpg.OperatorInterventionError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


class PostgresUnavailableError(Exception):
    """PostgreSQL could not be reached in time. Transient: the same call may be retried."""


@dataclass(frozen=True)
class PostgresConfig:
    dsn: str
    application_name: str
    migrations_dir: Path
    # None: the tables live in the database's default schema (public).
    schema: str | None = None
    timeout_s: float = 5.0
    max_pool_size: int = 10
    # 0: a replica that has not queried for a while (asyncpg closes connections idle for
    # 5 minutes) holds no connection, so many replicas do not use up the server's.
    min_pool_size: int = 1
    migration_timeout_s: float = 60.0


class PostgresPool:
    def __init__(
        self,
        config: PostgresConfig,
        unavailable: Callable[[str], Exception] = PostgresUnavailableError,
    ) -> None:
        """`unavailable` builds the error raised for a transient failure, from what was being
        done and why it failed."""
        self._config = config
        self._unavailable = unavailable
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        # The attempt to open in progress, shared by every call waiting for it: while the
        # server cannot be reached they fail together, not one connect timeout after another.
        self._opening: asyncio.Future[asyncpg.Pool[asyncpg.Record]] | None = None
        self._closed = False

    async def ready(self) -> "asyncpg.Pool[asyncpg.Record]":
        """Applies pending migrations, then opens the pool; at once when it is open. Raises
        the `unavailable` error when PostgreSQL cannot be reached, MigrationError when the
        migrations are inconsistent."""
        if self._pool is not None:
            return self._pool
        if self._closed:
            raise self._unavailable("closed: the service is stopping")
        if self._opening is None or self._opening.done():
            self._opening = asyncio.ensure_future(self._open())
            # Its failure reaches whoever waits; with nobody left waiting, it is not an error.
            self._opening.add_done_callback(lambda f: f.cancelled() or f.exception())
        return await asyncio.shield(self._opening)

    async def _open(self) -> "asyncpg.Pool[asyncpg.Record]":
        try:
            await self._migrate()
            pool = await asyncpg.create_pool(
                self._config.dsn,
                min_size=self._config.min_pool_size,
                max_size=self._config.max_pool_size,
                timeout=self._config.timeout_s,
                command_timeout=self._config.timeout_s,
                # A connection given back mid-transaction is still rolled back (asyncpg does
                # that first, whatever the reset); see _keep_session.
                reset=_keep_session,
                server_settings=self._server_settings()
                | {
                    # Also bounds queries the server runs after a client-side timeout.
                    "statement_timeout": str(int(self._config.timeout_s * 1000)),
                },
            )
        except TRANSIENT as exc:
            raise self._failed("cannot open PostgreSQL", exc) from exc
        log.info("postgres ready", application=self._config.application_name)
        self._pool = pool
        return pool

    @asynccontextmanager
    async def connection(
        self, what: str, transaction: bool = False, snapshot: bool = False
    ) -> AsyncIterator[Any]:
        """A pooled connection, every call under the deadlines: in a transaction if asked, or
        with `snapshot` in a read-only one that sees one moment throughout (repeatable read).
        A failure that says nothing about the request is the `unavailable` error naming
        `what`."""
        pool = await self.ready()
        try:
            async with pool.acquire(timeout=self._config.timeout_s) as conn:
                if snapshot:
                    async with conn.transaction(isolation="repeatable_read", readonly=True):
                        yield conn
                elif transaction:
                    async with conn.transaction():
                        yield conn
                else:
                    yield conn
        except TRANSIENT as exc:
            raise self._failed(what, exc) from exc

    async def close(self) -> None:
        """Closes the pool, waiting up to the timeout for connections in use; then drops them."""
        self._closed = True
        if self._opening is not None and not self._opening.done():
            self._opening.cancel()
            # It may have opened the pool just before: wait, so that one is closed too.
            await asyncio.gather(self._opening, return_exceptions=True)
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        try:
            await asyncio.wait_for(pool.close(), timeout=self._config.timeout_s)
        except TimeoutError:
            log.warning(
                "postgres pool did not close in time; terminating it",
                application=self._config.application_name,
            )
            pool.terminate()

    def _failed(self, what: str, exc: BaseException) -> Exception:
        log.warning(
            "postgres unavailable",
            application=self._config.application_name,
            doing=what,
            error=repr(exc),
        )
        return self._unavailable(f"{what}: {exc!r}")

    def _server_settings(self) -> dict[str, str]:
        settings = {"application_name": self._config.application_name}
        if self._config.schema is not None:
            settings["search_path"] = _quoted(self._config.schema)
        return settings

    async def _migrate(self) -> None:
        config = self._config
        migrations = load_migrations(config.migrations_dir)
        # A dedicated connection: the advisory lock is per session, and must not outlive the
        # run on some pooled connection.
        conn = await asyncpg.connect(
            config.dsn, timeout=config.timeout_s, server_settings=self._server_settings()
        )
        try:
            lock_key = MIGRATION_LOCK_KEY
            if config.schema is not None:
                lock_key = lock_key_for(config.schema)
                await _create_schema(conn, config.schema, config.migration_timeout_s)
            await migrate(conn, migrations, config.migration_timeout_s, lock_key)
        finally:
            await asyncio.wait_for(conn.close(), timeout=config.timeout_s)


async def _keep_session(connection: Any) -> None:
    """What a connection given back to the pool needs beyond the rollback: nothing. asyncpg's
    default sends a reset (advisory locks, cursors, LISTEN, settings) on every release, one
    more round trip for each query and transaction, while the services leave none of that on a
    pooled connection (the migrations' lock is taken on a connection of their own)."""


async def _create_schema(conn: Any, schema: str, timeout_s: float) -> None:
    # Another replica may create it at the same moment: IF NOT EXISTS does not lock.
    with contextlib.suppress(asyncpg.UniqueViolationError, asyncpg.DuplicateSchemaError):
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)}", timeout=timeout_s)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
