"""Escrow queries, run by PostgresLedger inside its transactions.

Holding and withdrawing take a per-platform transaction lock first, so two calls cannot both
spend the same available funds; deposits only add, and need none.
"""

from datetime import datetime
from typing import Any

from payroll.domain.escrow import EscrowBalance, InsufficientEscrowError, TaskHold
from payroll.domain.model import CHARGES


async def lock(conn: Any, platform_id: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", platform_id)


async def balance(conn: Any, platform_id: str) -> EscrowBalance:
    # From the running totals the database keeps per platform and kind (0007).
    row = await conn.fetchrow(
        """
        SELECT
          coalesce(sum(amount_micros) FILTER (WHERE kind = 'deposit'), 0)::bigint AS deposited,
          coalesce(sum(amount_micros) FILTER (WHERE kind = 'withdrawal'), 0)::bigint
            AS withdrawn,
          coalesce(sum(amount_micros) FILTER (WHERE kind = ANY($2::text[])), 0)::bigint
            AS spent,
          (SELECT coalesce(sum(amount_micros), 0)::bigint FROM escrow_holds
            WHERE platform_id = $1 AND state = 'held') AS held
        FROM platform_totals WHERE platform_id = $1
        """,
        platform_id,
        sorted(kind.value for kind in CHARGES),
    )
    return EscrowBalance(platform_id, row["deposited"], row["withdrawn"], row["spent"], row["held"])


async def hold(
    conn: Any,
    platform_id: str,
    holds: list[TaskHold],
    now: datetime,
    confirm_by: datetime | None,
) -> EscrowBalance:
    """Inside a transaction that holds the platform's lock."""
    ids = [h.task_id for h in holds]
    known = {
        row["task_id"]
        for row in await conn.fetch(
            """
            SELECT task_id FROM escrow_holds
            WHERE task_id = ANY($1::text[]) AND state <> 'lapsed'
            """,
            ids,
        )
    }
    new = {h.task_id: h for h in holds if h.task_id not in known}
    before = await balance(conn, platform_id)
    needed = sum(h.amount_micros for h in new.values())
    if needed == 0:
        return before
    if before.available_micros < needed:
        raise InsufficientEscrowError(before, needed)
    # A lapsed hold (its first submission never got through) is held again.
    await conn.execute(
        """
        INSERT INTO escrow_holds
            (task_id, platform_id, amount_micros, state, held_at, unconfirmed_until)
        SELECT t, $1, a, 'held', $4, $5 FROM unnest($2::text[], $3::bigint[]) AS u(t, a)
        ON CONFLICT (task_id) DO UPDATE
            SET state = 'held', amount_micros = EXCLUDED.amount_micros,
                held_at = EXCLUDED.held_at, settled_at = NULL,
                unconfirmed_until = EXCLUDED.unconfirmed_until
            WHERE escrow_holds.state = 'lapsed'
        """,
        platform_id,
        list(new),
        [h.amount_micros for h in new.values()],
        now,
        confirm_by,
    )
    return EscrowBalance(
        platform_id,
        before.deposited_micros,
        before.withdrawn_micros,
        before.spent_micros,
        before.held_micros + needed,
    )


async def confirm(conn: Any, task_ids: list[str]) -> int:
    """The tasks are real: their holds no longer lapse, and those that lapsed are held again
    (whatever the funds: the work will be done and paid)."""
    status = await conn.execute(
        """
        UPDATE escrow_holds
        SET unconfirmed_until = NULL,
            state = CASE WHEN state = 'lapsed' THEN 'held' ELSE state END,
            settled_at = CASE WHEN state = 'lapsed' THEN NULL ELSE settled_at END
        WHERE task_id = ANY($1::text[])
          AND (unconfirmed_until IS NOT NULL OR state = 'lapsed')
        """,
        task_ids,
    )
    return int(status.rsplit(" ", 1)[-1])


async def spend(conn: Any, task_id: str, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE escrow_holds SET state = 'spent', settled_at = $2
        WHERE task_id = $1 AND state = 'held'
        """,
        task_id,
        now,
    )


async def release(conn: Any, task_id: str, now: datetime) -> bool:
    status = await conn.execute(
        """
        UPDATE escrow_holds SET state = 'released', settled_at = $2
        WHERE task_id = $1 AND state = 'held'
        """,
        task_id,
        now,
    )
    return bool(status.endswith(" 1"))


async def release_after(conn: Any, task_id: str, at: datetime | None) -> None:
    await conn.execute(
        "UPDATE escrow_holds SET release_after = $2 WHERE task_id = $1 AND state = 'held'",
        task_id,
        at,
    )


async def release_due(conn: Any, now: datetime, limit: int) -> int:
    """Releases the holds whose appeal windows closed by `now`."""
    return await _settle_due(conn, _RELEASE_DUE, now, limit)


async def lapse_unconfirmed(conn: Any, now: datetime, limit: int) -> int:
    """Lets the holds still unconfirmed at their deadline lapse."""
    return await _settle_due(conn, _LAPSE_DUE, now, limit)


# Up to $2 held rows due by $1 move to their final state, each statement on its own index.
_SETTLE_DUE = """
UPDATE escrow_holds SET state = '{state}', settled_at = $1
WHERE task_id IN (
    SELECT task_id FROM escrow_holds
    WHERE state = 'held' AND {deadline} IS NOT NULL AND {deadline} <= $1
    LIMIT $2
)
"""
_RELEASE_DUE = _SETTLE_DUE.format(state="released", deadline="release_after")
_LAPSE_DUE = _SETTLE_DUE.format(state="lapsed", deadline="unconfirmed_until")


async def _settle_due(conn: Any, statement: str, now: datetime, limit: int) -> int:
    status = await conn.execute(statement, now, limit)
    return int(status.rsplit(" ", 1)[-1])
