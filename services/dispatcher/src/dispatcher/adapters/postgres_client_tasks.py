"""The client task ids every platform has used, in PostgreSQL (`client_tasks`).

Rows are keyed by the task id derived from (platform, client task id); fingerprints are
SHA-256 digests, stored as their 32 bytes. Rows are locked and written in the order of their
keys, so calls whose batches overlap never deadlock.
"""

import uuid
from collections.abc import Sequence
from pathlib import Path

from dispatcher.domain.model import TaskState, TaskStatus, task_id_for
from dispatcher.service_layer.ports import (
    Accepted,
    ClientTaskRecord,
    IdState,
    TaskOutcome,
    last_words,
)
from fairtask_runtime.postgres import PostgresPool

# The dispatcher's NNNN_name.sql files: beside the package, shipped at FAIRTASK_MIGRATIONS_DIR.
DEFAULT_MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"

# A task something became of was out, whether or not its call lived to mark it published.
_RECORDED = """
SELECT task_id::text, fingerprint, published OR outcome IS NOT NULL AS published
FROM client_tasks WHERE task_id = ANY($1::uuid[])
"""

_BIND = """
INSERT INTO client_tasks (task_id, fingerprint, client_task_id, task_type)
SELECT ids.task_id, ids.fingerprint, ids.client_task_id, ids.task_type
FROM unnest($1::uuid[], $2::bytea[], $3::text[], $4::text[])
    AS ids (task_id, fingerprint, client_task_id, task_type)
ORDER BY ids.task_id
ON CONFLICT (task_id) DO NOTHING
"""

# After _BIND in the same transaction: every id has a row, locked until the commit.
_BOUND = """
SELECT task_id::text, fingerprint FROM client_tasks
WHERE task_id = ANY($1::uuid[])
ORDER BY task_id
FOR SHARE
"""

_MARK_PUBLISHED = """
INSERT INTO client_tasks (task_id, fingerprint, client_task_id, task_type, published)
SELECT ids.task_id, ids.fingerprint, ids.client_task_id, nullif(ids.task_type, ''), true
FROM unnest($1::uuid[], $2::bytea[], $3::text[], $4::text[])
    AS ids (task_id, fingerprint, client_task_id, task_type)
ORDER BY ids.task_id
ON CONFLICT (task_id) DO UPDATE SET published = true
WHERE client_tasks.fingerprint = excluded.fingerprint AND NOT client_tasks.published
"""

# A submission is final; anything else is recorded only over nothing. Ids not here (further
# answers' copies) match no row; a row without names (bound by an earlier version) takes them
# from a submission, and is passed over when nothing names it (GetTask could not tell it).
_RECORD_OUTCOMES = """
UPDATE client_tasks SET outcome = done.outcome, worker_id = done.worker_id, done_at = now(),
    client_task_id = coalesce(client_tasks.client_task_id, nullif(done.client_task_id, '')),
    task_type = coalesce(client_tasks.task_type, nullif(done.task_type, ''))
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
    AS done (task_id, outcome, worker_id, client_task_id, task_type)
WHERE client_tasks.task_id = done.task_id
  AND client_tasks.outcome IS DISTINCT FROM 'submitted'
  AND (client_tasks.outcome IS NULL OR done.outcome = 'submitted')
  AND (client_tasks.client_task_id IS NOT NULL OR done.client_task_id <> '')
"""

_OUTCOME = """
SELECT client_task_id, task_type, outcome, worker_id FROM client_tasks
WHERE task_id = $1::uuid AND outcome IS NOT NULL
"""


class PostgresClientTaskIds:
    def __init__(self, db: PostgresPool) -> None:
        self._db = db

    async def start(self) -> None:
        """Migrates and opens the pool. Idempotent; raises SubmissionsUnavailableError while
        PostgreSQL cannot be reached."""
        await self._db.ready()

    async def close(self) -> None:
        await self._db.close()

    async def recorded(
        self, platform_id: str, client_task_ids: Sequence[str]
    ) -> dict[str, ClientTaskRecord]:
        if not client_task_ids:
            return {}
        client_ids = {task_id_for(platform_id, c): c for c in client_task_ids}
        async with self._db.connection(f"client task ids of {platform_id}") as conn:
            rows = await conn.fetch(_RECORDED, list(client_ids))
        return {
            client_ids[row["task_id"]]: ClientTaskRecord(
                bytes(row["fingerprint"]).hex(),
                IdState.PUBLISHED if row["published"] else IdState.PUBLISHING,
            )
            for row in rows
        }

    async def start_publishing(
        self, platform_id: str, accepted: Sequence[Accepted]
    ) -> dict[str, str]:
        if not accepted:
            return {}
        by_task = _by_task(platform_id, accepted)
        task_ids, digests = _columns(by_task)
        try:
            async with (
                self._db.connection(f"binding ids of {platform_id}") as conn,
                conn.transaction(),
            ):
                await conn.execute(_BIND, task_ids, digests, *_names(by_task, task_ids))
                rows = await conn.fetch(_BOUND, task_ids)
                others = {
                    by_task[row["task_id"]].client_task_id: bytes(row["fingerprint"]).hex()
                    for row in rows
                    if bytes(row["fingerprint"]).hex() != by_task[row["task_id"]].fingerprint
                }
                if others:
                    # All or none: what this call bound in this transaction is undone.
                    raise _BoundElsewhereError(others)
        except _BoundElsewhereError as refused:
            return refused.others
        return {}

    async def mark_published(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        if not accepted:
            return
        by_task = _by_task(platform_id, accepted)
        task_ids, digests = _columns(by_task)
        async with self._db.connection(f"publishing ids of {platform_id}") as conn:
            await conn.execute(_MARK_PUBLISHED, task_ids, digests, *_names(by_task, task_ids))

    async def record_outcomes(self, outcomes: Sequence[TaskOutcome]) -> None:
        final = {t: done for t, done in last_words(outcomes).items() if _is_uuid(t)}
        if not final:
            return
        # In key order: rows locked in one order.
        ids = sorted(final)
        async with self._db.connection("recording what became of tasks") as conn:
            await conn.execute(
                _RECORD_OUTCOMES,
                ids,
                [final[t].state.value for t in ids],
                [final[t].worker_id for t in ids],
                [final[t].client_task_id for t in ids],
                [final[t].task_type for t in ids],
            )

    async def outcome(self, platform_id: str, task_id: str) -> TaskStatus | None:
        if not _is_uuid(task_id):
            return None
        async with self._db.connection(f"what became of {task_id}") as conn:
            row = await conn.fetchrow(_OUTCOME, task_id)
        # The key says nothing of the platform: the row is theirs if it derives from their id.
        if row is None or row["client_task_id"] is None:
            return None
        if task_id_for(platform_id, row["client_task_id"]) != task_id:
            return None
        return TaskStatus(
            task_id,
            row["client_task_id"],
            row["task_type"] or "",
            TaskState(row["outcome"]),
            row["worker_id"] or "",
        )

    async def adopt(self, platform_id: str, prints: dict[str, str]) -> list[str]:
        """Records ids an earlier version kept elsewhere as published; returns those recorded
        already with another fingerprint (kept as they are)."""
        adopted = [Accepted(c, "", p, "") for c, p in prints.items()]
        await self.mark_published(platform_id, adopted)
        recorded = await self.recorded(platform_id, list(prints))
        return [c for c, r in recorded.items() if r.fingerprint != prints[c]]


class _BoundElsewhereError(Exception):
    def __init__(self, others: dict[str, str]) -> None:
        super().__init__(f"bound to other content: {sorted(others)}")
        self.others = others


def _by_task(platform_id: str, accepted: Sequence[Accepted]) -> dict[str, Accepted]:
    # The key is derived here, as for every lookup, whatever the caller put in task_id.
    return {task_id_for(platform_id, a.client_task_id): a for a in accepted}


def _names(by_task: dict[str, Accepted], task_ids: list[str]) -> tuple[list[str], list[str]]:
    return [by_task[t].client_task_id for t in task_ids], [by_task[t].task_type for t in task_ids]


def _is_uuid(value: str) -> bool:
    """In the one spelling PostgreSQL is sent (uuid.UUID also reads braces and urn: forms)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _columns(by_task: dict[str, Accepted]) -> tuple[list[str], list[bytes]]:
    task_ids = sorted(by_task)
    return task_ids, [bytes.fromhex(by_task[t].fingerprint) for t in task_ids]
