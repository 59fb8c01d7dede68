"""The client task ids every platform has used, in PostgreSQL (`client_tasks`).

Fingerprints are SHA-256 digests, stored as their 32 bytes. Ids are written in sorted order, so
calls whose batches overlap take the rows' locks in one order and never deadlock.
"""

from collections.abc import Sequence
from pathlib import Path

from dispatcher.domain.errors import SubmissionsUnavailableError
from dispatcher.service_layer.ports import Accepted, ClientTaskRecord
from fairtask_runtime.postgres import PostgresPool

# The dispatcher's NNNN_name.sql files: beside the package, shipped at FAIRTASK_MIGRATIONS_DIR.
DEFAULT_MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"

_RECORDED = """
SELECT client_task_id, fingerprint, published FROM client_tasks
WHERE platform_id = $1 AND client_task_id = ANY($2::text[])
"""

_CLAIM = """
INSERT INTO client_tasks (platform_id, client_task_id, fingerprint, published)
SELECT $1, ids.client_task_id, ids.fingerprint, $4
FROM unnest($2::text[], $3::bytea[]) AS ids (client_task_id, fingerprint)
ORDER BY ids.client_task_id
ON CONFLICT (platform_id, client_task_id) DO NOTHING
RETURNING client_task_id
"""

_MARK_PUBLISHED = """
INSERT INTO client_tasks (platform_id, client_task_id, fingerprint, published)
SELECT $1, ids.client_task_id, ids.fingerprint, true
FROM unnest($2::text[], $3::bytea[]) AS ids (client_task_id, fingerprint)
ORDER BY ids.client_task_id
ON CONFLICT (platform_id, client_task_id) DO UPDATE SET published = true
WHERE client_tasks.fingerprint = excluded.fingerprint AND NOT client_tasks.published
"""

# A claim that finds an id taken, then no row for it (its claim was in a transaction that
# rolled back), tries again.
_CLAIM_ATTEMPTS = 5


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
                bytes(row["fingerprint"]).hex(), row["published"]
            )
            for row in rows
        }

    async def claim(self, platform_id: str, claims: Sequence[Accepted]) -> dict[str, str]:
        wanted = {a.client_task_id: a.fingerprint for a in claims}
        taken: dict[str, str] = {}
        for _ in range(_CLAIM_ATTEMPTS):
            if not wanted:
                return taken
            async with self._db.connection(f"claiming ids of {platform_id}") as conn:
                rows = await conn.fetch(_CLAIM, platform_id, *_columns(wanted), False)
            for row in rows:
                del wanted[row["client_task_id"]]
            found = await self.recorded(platform_id, list(wanted)) if wanted else {}
            for client_id, record in found.items():
                taken[client_id] = record.fingerprint
                del wanted[client_id]
        raise SubmissionsUnavailableError(f"claims of {platform_id} kept changing: {wanted}")

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


def _columns(prints: dict[str, str]) -> tuple[list[str], list[bytes]]:
    ids = sorted(prints)
    return ids, [bytes.fromhex(prints[c]) for c in ids]
