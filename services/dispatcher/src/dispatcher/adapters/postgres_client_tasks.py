"""The client task ids every platform has used, in PostgreSQL (`client_tasks`).

Fingerprints are SHA-256 digests, stored as their 32 bytes. Rows are locked and written in the
order of their ids, so calls whose batches overlap never deadlock.
"""

from collections.abc import Sequence
from pathlib import Path

from dispatcher.service_layer.ports import Accepted, ClientTaskRecord, IdState
from fairtask_runtime.postgres import PostgresPool

# The dispatcher's NNNN_name.sql files: beside the package, shipped at FAIRTASK_MIGRATIONS_DIR.
DEFAULT_MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"

_RECORDED = """
SELECT client_task_id, fingerprint, published FROM client_tasks
WHERE platform_id = $1 AND client_task_id = ANY($2::text[])
"""

_BIND = """
INSERT INTO client_tasks (platform_id, client_task_id, fingerprint)
SELECT $1, ids.client_task_id, ids.fingerprint
FROM unnest($2::text[], $3::bytea[]) AS ids (client_task_id, fingerprint)
ORDER BY ids.client_task_id
ON CONFLICT (platform_id, client_task_id) DO NOTHING
"""

# After _BIND in the same transaction: every id has a row, locked until the commit.
_BOUND = """
SELECT client_task_id, fingerprint FROM client_tasks
WHERE platform_id = $1 AND client_task_id = ANY($2::text[])
ORDER BY client_task_id
FOR SHARE
"""

_MARK_PUBLISHED = """
INSERT INTO client_tasks (platform_id, client_task_id, fingerprint, published)
SELECT $1, ids.client_task_id, ids.fingerprint, true
FROM unnest($2::text[], $3::bytea[]) AS ids (client_task_id, fingerprint)
ORDER BY ids.client_task_id
ON CONFLICT (platform_id, client_task_id) DO UPDATE SET published = true
WHERE client_tasks.fingerprint = excluded.fingerprint AND NOT client_tasks.published
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
        async with self._db.connection(f"client task ids of {platform_id}") as conn:
            rows = await conn.fetch(_RECORDED, platform_id, list(client_task_ids))
        return {
            row["client_task_id"]: ClientTaskRecord(
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
        prints = {a.client_task_id: a.fingerprint for a in accepted}
        ids, digests = _columns(prints)
        try:
            async with (
                self._db.connection(f"binding ids of {platform_id}") as conn,
                conn.transaction(),
            ):
                await conn.execute(_BIND, platform_id, ids, digests)
                rows = await conn.fetch(_BOUND, platform_id, ids)
                others = {
                    row["client_task_id"]: bytes(row["fingerprint"]).hex()
                    for row in rows
                    if bytes(row["fingerprint"]).hex() != prints[row["client_task_id"]]
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
        prints = {a.client_task_id: a.fingerprint for a in accepted}
        async with self._db.connection(f"publishing ids of {platform_id}") as conn:
            await conn.execute(_MARK_PUBLISHED, platform_id, *_columns(prints))

    async def adopt(self, platform_id: str, prints: dict[str, str]) -> list[str]:
        """Records ids an earlier version kept elsewhere as published; returns those recorded
        already with another fingerprint (kept as they are)."""
        async with self._db.connection(f"adopting ids of {platform_id}") as conn:
            await conn.execute(_MARK_PUBLISHED, platform_id, *_columns(prints))
        recorded = await self.recorded(platform_id, list(prints))
        return [c for c, r in recorded.items() if r.fingerprint != prints[c]]


class _BoundElsewhereError(Exception):
    def __init__(self, others: dict[str, str]) -> None:
        super().__init__(f"bound to other content: {sorted(others)}")
        self.others = others


def _columns(prints: dict[str, str]) -> tuple[list[str], list[bytes]]:
    ids = sorted(prints)
    return ids, [bytes.fromhex(prints[c]) for c in ids]
