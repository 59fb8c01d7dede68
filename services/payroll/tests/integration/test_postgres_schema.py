"""The schema and its migrations on a real PostgreSQL: double entry is the database's job."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from fairtask_runtime.postgres_migrations import MigrationError, load_migrations, migrate
from payroll.adapters.postgres import DEFAULT_DIRECTORY, PostgresLedger
from payroll.service_layer.ports import LedgerUnavailableError

pytestmark = pytest.mark.integration

TIMEOUT_S = 30.0


@pytest.fixture
async def conn(payroll_dsn: str) -> AsyncIterator["asyncpg.Connection[asyncpg.Record]"]:
    connection = await asyncpg.connect(payroll_dsn, timeout=TIMEOUT_S)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def migrated(
    conn: "asyncpg.Connection[asyncpg.Record]",
) -> "asyncpg.Connection[asyncpg.Record]":
    await migrate(conn, load_migrations(DEFAULT_DIRECTORY), TIMEOUT_S)
    return conn


async def test_migrations_apply_once_and_a_second_run_is_harmless(
    conn: "asyncpg.Connection[asyncpg.Record]",
) -> None:
    migrations = load_migrations(DEFAULT_DIRECTORY)

    first = await migrate(conn, migrations, TIMEOUT_S)
    second = await migrate(conn, migrations, TIMEOUT_S)

    assert first == [m.version for m in migrations]
    assert second == []
    versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in versions] == first


async def test_replicas_starting_together_apply_each_migration_once(payroll_dsn: str) -> None:
    migrations = load_migrations(DEFAULT_DIRECTORY)
    conns = [await asyncpg.connect(payroll_dsn, timeout=TIMEOUT_S) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, migrations, TIMEOUT_S) for c in conns))
    finally:
        for c in conns:
            await c.close()

    assert sorted(v for applied in results for v in applied) == [m.version for m in migrations]


async def test_an_applied_migration_that_changed_is_refused(
    migrated: "asyncpg.Connection[asyncpg.Record]", tmp_path: Path
) -> None:
    for migration in load_migrations(DEFAULT_DIRECTORY):
        (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(
            migration.sql + "\n-- edited\n"
        )

    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(migrated, load_migrations(tmp_path), TIMEOUT_S)


async def test_a_failing_migration_leaves_the_previous_version(
    migrated: "asyncpg.Connection[asyncpg.Record]", tmp_path: Path
) -> None:
    for migration in load_migrations(DEFAULT_DIRECTORY):
        (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    (tmp_path / "0099_broken.sql").write_text("CREATE TABLE half_done (x int); SELECT 1/0;")

    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(migrated, load_migrations(tmp_path), TIMEOUT_S)

    assert await migrated.fetchval("SELECT max(version) FROM schema_migrations") != 99
    assert await migrated.fetchval("SELECT to_regclass('half_done')") is None


async def insert_posting(
    conn: "asyncpg.Connection[asyncpg.Record]", lines: list[tuple[str, int]]
) -> None:
    posting_id = uuid.uuid4()
    await conn.execute(
        """
        INSERT INTO accounts (id, kind) VALUES
            ('platform:p:escrow', 'platform_escrow'), ('worker:w:payable', 'worker_payable')
        ON CONFLICT DO NOTHING
        """
    )
    await conn.execute(
        """
        INSERT INTO postings (id, source_key, kind, worker_id, region, task_id, platform_id,
            task_type, amount_micros, paid_seconds, source_event_id, posted_at)
        VALUES ($1, $2, 'task_pay', 'w', 'ke', 't', 'p', 'bbox', 100, 10, 'e', now())
        """,
        posting_id,
        f"task_pay:{posting_id}",
    )
    await conn.executemany(
        "INSERT INTO ledger_lines (posting_id, account_id, amount_micros) VALUES ($1, $2, $3)",
        [(posting_id, account, amount) for account, amount in lines],
    )


@pytest.mark.parametrize(
    "lines",
    [
        [("platform:p:escrow", 100), ("worker:w:payable", -99)],
        [("platform:p:escrow", 100)],
        [],
    ],
    ids=["unequal", "one-sided", "no-lines"],
)
async def test_the_database_rejects_an_unbalanced_posting_at_commit(
    migrated: "asyncpg.Connection[asyncpg.Record]", lines: list[tuple[str, int]]
) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match="unbalanced"):
        async with migrated.transaction():
            # Each statement succeeds: the deferred trigger judges the posting as a whole.
            await insert_posting(migrated, lines)

    assert await migrated.fetchval("SELECT count(*) FROM postings") == 0


async def test_a_balanced_posting_inserted_directly_commits(
    migrated: "asyncpg.Connection[asyncpg.Record]",
) -> None:
    async with migrated.transaction():
        await insert_posting(migrated, [("platform:p:escrow", 100), ("worker:w:payable", -100)])

    assert await migrated.fetchval("SELECT count(*) FROM ledger_lines") == 2


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_lines SET amount_micros = amount_micros * 2",
        "DELETE FROM ledger_lines",
        "UPDATE postings SET amount_micros = 1",
        "DELETE FROM postings",
    ],
)
async def test_the_ledger_is_append_only(
    migrated: "asyncpg.Connection[asyncpg.Record]", statement: str
) -> None:
    async with migrated.transaction():
        await insert_posting(migrated, [("platform:p:escrow", 100), ("worker:w:payable", -100)])

    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await migrated.execute(statement)


async def test_the_ledger_migrates_on_start_and_survives_a_second_start(payroll_dsn: str) -> None:
    for _ in range(2):
        ledger = PostgresLedger(payroll_dsn, timeout_s=10.0)
        await ledger.start()
        await ledger.start()
        assert (await ledger.summary()).balanced
        await ledger.close()


async def test_an_unreachable_server_is_reported_as_unavailable() -> None:
    ledger = PostgresLedger("postgresql://postgres@127.0.0.1:1/nowhere", timeout_s=2.0)
    with pytest.raises(LedgerUnavailableError):
        await ledger.summary()
