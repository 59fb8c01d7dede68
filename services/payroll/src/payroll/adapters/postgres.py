"""The ledger in PostgreSQL, through an asyncpg pool.

Nothing connects at construction: `start()` (called by the service's start-up loop, or by the
first query, whichever comes first) applies the migrations and opens the pool. Every query
runs under the pool's `command_timeout` plus a server-side `statement_timeout`, and taking a
connection from the pool has its own deadline, so no call can hang.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from fairtask_runtime.postgres import PostgresConfig, PostgresPool
from payroll.adapters import escrow_sql
from payroll.domain.escrow import (
    EscrowBalance,
    InsufficientEscrowError,
    TaskHold,
    check_deposit,
)
from payroll.domain.model import (
    CHARGES,
    AccountKind,
    EntryKind,
    LedgerSummary,
    Line,
    Posting,
    RegionEarnings,
    Statement,
    StatementLine,
    worker_of_payable,
    worker_payable,
)
from payroll.domain.payouts import payout_key, payout_posting
from payroll.service_layer.ports import LedgerUnavailableError, Posted

log = structlog.get_logger(__name__)

# Payroll's NNNN_name.sql files: beside the package, shipped at FAIRTASK_MIGRATIONS_DIR.
DEFAULT_DIRECTORY = Path(__file__).resolve().parents[3] / "migrations"

_POSTING_COLUMNS = """
    id::text AS id, source_key, kind, worker_id, region, task_id, platform_id, task_type,
    amount_micros, paid_seconds, source_event_id, posted_at
"""


class PostgresLedger:
    def __init__(
        self,
        dsn: str,
        timeout_s: float = 5.0,
        max_pool_size: int = 10,
        migrations_dir: Path | None = None,
        migration_timeout_s: float = 60.0,
    ) -> None:
        config = PostgresConfig(
            dsn,
            "payroll",
            migrations_dir or DEFAULT_DIRECTORY,
            timeout_s=timeout_s,
            max_pool_size=max_pool_size,
            migration_timeout_s=migration_timeout_s,
        )
        self._db = PostgresPool(config, LedgerUnavailableError)
        self._connection = self._db.connection

    async def start(self) -> None:
        """Applies pending migrations, then opens the pool. Idempotent. Raises
        LedgerUnavailableError when PostgreSQL cannot be reached, MigrationError when the
        migrations are inconsistent."""
        await self._db.ready()

    async def close(self) -> None:
        """Closes the pool, waiting up to the timeout for connections in use; then drops them."""
        await self._db.close()

    async def post(self, posting: Posting) -> Posted:
        async with self._connection(f"posting {posting.source_key}", transaction=True) as conn:
            posted = await _insert(conn, posting)
            if posted.created and posting.kind is EntryKind.TASK_PAY:
                await escrow_sql.spend(conn, posting.task_id, posting.posted_at)
            # The deferred balance trigger runs at this block's COMMIT.
        return posted

    async def escrow(self, platform_id: str) -> EscrowBalance:
        async with self._connection(f"escrow of {platform_id}", snapshot=True) as conn:
            return await escrow_sql.balance(conn, platform_id)

    async def hold(
        self,
        platform_id: str,
        holds: list[TaskHold],
        now: datetime,
        confirm_by: datetime | None = None,
    ) -> EscrowBalance:
        async with self._connection(f"holding for {platform_id}", transaction=True) as conn:
            await escrow_sql.lock(conn, platform_id)
            return await escrow_sql.hold(conn, platform_id, holds, now, confirm_by)

    async def confirm(self, task_ids: list[str]) -> int:
        async with self._connection("confirming holds") as conn:
            return await escrow_sql.confirm(conn, task_ids)

    async def release(self, task_id: str, now: datetime) -> bool:
        async with self._connection(f"releasing {task_id}") as conn:
            return await escrow_sql.release(conn, task_id, now)

    async def owed(
        self, minimum_micros: int, limit: int, after: str | None = None
    ) -> list[tuple[str, int]]:
        async with self._connection("owed") as conn:
            rows = await conn.fetch(
                """
                SELECT l.account_id, -sum(l.amount_micros)::bigint AS owed
                FROM ledger_lines l JOIN accounts a ON a.id = l.account_id
                WHERE a.kind = 'worker_payable' AND ($3::text IS NULL OR a.id > $3)
                GROUP BY l.account_id
                HAVING -sum(l.amount_micros) >= $1
                ORDER BY l.account_id LIMIT $2
                """,
                max(minimum_micros, 1),
                limit,
                None if after is None else worker_payable(after),
            )
        return [(worker_of_payable(row["account_id"]), row["owed"]) for row in rows]

    async def pay_out(
        self, worker_id: str, batch_id: str, minimum_micros: int, entry_id: str, now: datetime
    ) -> Posted | None:
        async with self._connection(f"payout of {worker_id}", transaction=True) as conn:
            account = worker_payable(worker_id)
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 11))", account)
            key = payout_key(batch_id, worker_id)
            if await conn.fetchval("SELECT 1 FROM postings WHERE source_key = $1", key):
                return Posted(await _load(conn, key), created=False)
            owed = await conn.fetchval(
                "SELECT coalesce(-sum(amount_micros), 0)::bigint FROM ledger_lines"
                " WHERE account_id = $1",
                account,
            )
            if owed < max(minimum_micros, 1):
                return None
            return await _insert(conn, payout_posting(worker_id, owed, batch_id, entry_id, now))

    async def batch(self, batch_id: str, limit: int, after: str | None = None) -> list[Posting]:
        async with self._connection(f"batch {batch_id}") as conn:
            keys = await conn.fetch(
                """
                SELECT source_key FROM postings
                WHERE kind = 'payout' AND source_event_id = $1
                  AND ($3::text IS NULL OR source_key > $3)
                ORDER BY source_key LIMIT $2
                """,
                batch_id,
                limit,
                after,
            )
            return [await _load(conn, row["source_key"]) for row in keys]

    async def deposit(self, posting: Posting) -> Posted:
        async with self._connection(f"deposit {posting.source_key}", transaction=True) as conn:
            if (posted := await _locked_or_posted(conn, posting)) is not None:
                return posted
            check_deposit(
                await escrow_sql.balance(conn, posting.platform_id), posting.amount_micros
            )
            return await _insert(conn, posting)

    async def release_after(self, task_id: str, at: datetime | None) -> None:
        async with self._connection(f"scheduling release of {task_id}") as conn:
            await escrow_sql.release_after(conn, task_id, at)

    async def release_due(self, now: datetime, limit: int) -> int:
        async with self._connection("releasing due holds") as conn:
            return await escrow_sql.release_due(conn, now, limit)

    async def lapse_unconfirmed(self, now: datetime, limit: int) -> int:
        async with self._connection("letting unconfirmed holds lapse") as conn:
            return await escrow_sql.lapse_unconfirmed(conn, now, limit)

    async def withdraw(self, posting: Posting) -> Posted:
        async with self._connection(f"withdrawal {posting.source_key}", transaction=True) as conn:
            if (posted := await _locked_or_posted(conn, posting)) is not None:
                return posted
            balance = await escrow_sql.balance(conn, posting.platform_id)
            if balance.available_micros < posting.amount_micros:
                raise InsufficientEscrowError(balance, posting.amount_micros)
            return await _insert(conn, posting)

    async def statement(self, worker_id: str, max_lines: int) -> Statement | None:
        async with self._connection("statement", snapshot=True) as conn:
            totals = await conn.fetchrow(
                """
                SELECT count(*) AS postings,
                       count(*) FILTER (WHERE kind = 'task_pay') AS tasks_paid,
                       coalesce(sum(paid_seconds), 0)::bigint AS paid_seconds,
                       coalesce(sum(amount_micros) FILTER (WHERE kind = 'payout'), 0)::bigint
                         AS paid_out
                FROM postings WHERE worker_id = $1
                """,
                worker_id,
            )
            if totals is None or totals["postings"] == 0:
                return None
            balance = await conn.fetchval(
                """
                SELECT coalesce(-sum(amount_micros), 0)::bigint
                FROM ledger_lines WHERE account_id = $1
                """,
                worker_payable(worker_id),
            )
            rows = await conn.fetch(
                """
                SELECT id::text AS id, kind, amount_micros, paid_seconds, task_id, posted_at
                FROM postings WHERE worker_id = $1
                ORDER BY posted_at DESC, id DESC LIMIT $2
                """,
                worker_id,
                max_lines,
            )
        return Statement(
            worker_id=worker_id,
            lines=tuple(
                StatementLine(
                    entry_id=row["id"],
                    kind=EntryKind(row["kind"]),
                    amount_micros=row["amount_micros"],
                    paid_seconds=row["paid_seconds"],
                    task_id=row["task_id"],
                    posted_at=row["posted_at"],
                )
                for row in reversed(rows)
            ),
            balance_micros=balance,
            tasks_paid=totals["tasks_paid"],
            paid_seconds=totals["paid_seconds"],
            paid_out_micros=totals["paid_out"],
        )

    async def summary(self) -> LedgerSummary:
        async with self._connection("summary", snapshot=True) as conn:
            totals = await conn.fetchrow(
                """
                SELECT
                  coalesce(sum(amount_micros) FILTER (WHERE amount_micros > 0), 0)::bigint
                    AS debits,
                  coalesce(-sum(amount_micros) FILTER (WHERE amount_micros < 0), 0)::bigint
                    AS credits,
                  NOT EXISTS (
                    SELECT 1 FROM ledger_lines
                    GROUP BY posting_id HAVING sum(amount_micros) <> 0
                  ) AS every_posting_balanced,
                  (SELECT count(*) FROM postings) AS postings
                FROM ledger_lines
                """
            )
            regions = await conn.fetch(
                """
                SELECT region,
                       sum(amount_micros)::bigint AS earnings_micros,
                       sum(paid_seconds)::bigint AS paid_seconds,
                       count(*) FILTER (WHERE kind = 'task_pay') AS tasks_paid,
                       count(*) AS postings
                FROM postings WHERE kind = ANY($1::text[]) GROUP BY region ORDER BY region
                """,
                sorted(kind.value for kind in CHARGES),
            )
        assert totals is not None  # an aggregate without GROUP BY always returns one row
        return LedgerSummary(
            balanced=totals["every_posting_balanced"] and totals["debits"] == totals["credits"],
            total_debits_micros=totals["debits"],
            total_credits_micros=totals["credits"],
            postings=totals["postings"],
            regions=tuple(
                RegionEarnings(
                    region=row["region"],
                    earnings_micros=row["earnings_micros"],
                    paid_seconds=row["paid_seconds"],
                    tasks_paid=row["tasks_paid"],
                )
                for row in regions
            ),
        )


async def _locked_or_posted(conn: Any, posting: Posting) -> Posted | None:
    """Takes the platform's escrow lock; the posting if it is already in the ledger (a
    deposit or withdrawal sent again), else None."""
    await escrow_sql.lock(conn, posting.platform_id)
    if await conn.fetchval("SELECT 1 FROM postings WHERE source_key = $1", posting.source_key):
        return Posted(await _load(conn, posting.source_key), created=False)
    return None


async def _insert(conn: Any, posting: Posting) -> Posted:
    """Writes the posting and its lines inside the caller's transaction, unless its
    source_key is taken: then nothing is written and the stored posting returned."""
    lines = sorted(posting.lines, key=lambda line: line.account_id)
    # Accounts are created on first use, in account-id order so two transactions touching
    # the same pair of accounts cannot deadlock.
    await conn.execute(
        """
        INSERT INTO accounts (id, kind)
        SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1
        ON CONFLICT (id) DO NOTHING
        """,
        [line.account_id for line in lines],
        [line.account_kind.value for line in lines],
    )
    # A concurrent insert of the same source_key makes this wait for the other transaction;
    # if it commits, we write nothing and read its posting below.
    inserted = await conn.fetchval(
        """
        INSERT INTO postings (id, source_key, kind, worker_id, region, task_id,
            platform_id, task_type, amount_micros, paid_seconds, source_event_id, posted_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (source_key) DO NOTHING
        RETURNING id
        """,
        posting.entry_id,
        posting.source_key,
        posting.kind.value,
        posting.worker_id,
        posting.region,
        posting.task_id,
        posting.platform_id,
        posting.task_type,
        posting.amount_micros,
        posting.paid_seconds,
        posting.source_event_id,
        posting.posted_at,
    )
    if inserted is None:
        return Posted(await _load(conn, posting.source_key), created=False)
    await conn.execute(
        """
        INSERT INTO ledger_lines (posting_id, account_id, amount_micros)
        SELECT $1, * FROM unnest($2::text[], $3::bigint[])
        """,
        posting.entry_id,
        [line.account_id for line in lines],
        [line.amount_micros for line in lines],
    )
    return Posted(posting, created=True)


async def _load(conn: Any, source_key: str) -> Posting:
    row = await conn.fetchrow(
        f"SELECT {_POSTING_COLUMNS} FROM postings WHERE source_key = $1", source_key
    )
    lines = await conn.fetch(
        """
        SELECT l.account_id, a.kind, l.amount_micros
        FROM ledger_lines l JOIN accounts a ON a.id = l.account_id
        WHERE l.posting_id = $1 ORDER BY l.amount_micros DESC
        """,
        row["id"],
    )
    return Posting(
        entry_id=row["id"],
        source_key=row["source_key"],
        kind=EntryKind(row["kind"]),
        worker_id=row["worker_id"],
        region=row["region"],
        task_id=row["task_id"],
        platform_id=row["platform_id"],
        task_type=row["task_type"],
        amount_micros=row["amount_micros"],
        paid_seconds=row["paid_seconds"],
        source_event_id=row["source_event_id"],
        posted_at=row["posted_at"],
        lines=tuple(
            Line(r["account_id"], AccountKind(r["kind"]), r["amount_micros"]) for r in lines
        ),
    )
