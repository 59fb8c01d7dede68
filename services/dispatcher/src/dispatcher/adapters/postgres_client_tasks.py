"""The client task ids every platform has used, in PostgreSQL (`client_tasks`).

Opened by the start-up loop or the first call, whichever comes first: the migrations, then
the fingerprints an earlier version kept in Redis moved here (`RedisClientHashes`), then
served. Fingerprints are SHA-256 digests, stored as their 32 bytes.
"""

import asyncio
from collections.abc import Sequence
from pathlib import Path

import structlog

from dispatcher.adapters.redis_client_hashes import RedisClientHashes
from dispatcher.service_layer.ports import Accepted
from fairtask_runtime.postgres import PostgresPool

log = structlog.get_logger(__name__)

# The dispatcher's NNNN_name.sql files: beside the package, shipped at FAIRTASK_MIGRATIONS_DIR.
DEFAULT_MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"

_FIND = """
SELECT client_task_id, fingerprint FROM client_tasks
WHERE platform_id = $1 AND client_task_id = ANY($2::text[])
"""

# The first content under an id stays: two racing calls with different content both passed
# the check, and the task id (so the task downstream) is the first one's.
_REMEMBER = """
INSERT INTO client_tasks (platform_id, client_task_id, fingerprint)
SELECT $1, ids.client_task_id, ids.fingerprint
FROM unnest($2::text[], $3::bytea[]) AS ids (client_task_id, fingerprint)
ON CONFLICT (platform_id, client_task_id) DO NOTHING
"""


class PostgresClientTaskIds:
    def __init__(self, db: PostgresPool, earlier: RedisClientHashes | None = None) -> None:
        self._db = db
        self._earlier = earlier
        self._started = False
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Migrates, opens the pool and moves what Redis still holds here. Idempotent; raises
        SubmissionsUnavailableError while PostgreSQL cannot be reached."""
        if self._started:
            return
        async with self._starting:
            if self._started:
                return
            await self._db.ready()
            if self._earlier is not None:
                await self._move_earlier(self._earlier)
            self._started = True

    async def close(self) -> None:
        await self._db.close()

    async def fingerprints(
        self, platform_id: str, client_task_ids: Sequence[str]
    ) -> dict[str, str]:
        if not client_task_ids:
            return {}
        await self.start()
        async with self._db.connection(f"client task ids of {platform_id}") as conn:
            rows = await conn.fetch(_FIND, platform_id, list(client_task_ids))
        return {row["client_task_id"]: bytes(row["fingerprint"]).hex() for row in rows}

    async def remember(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        if not accepted:
            return
        await self.start()
        await self._insert(platform_id, {a.client_task_id: a.fingerprint for a in accepted})

    async def _insert(self, platform_id: str, prints: dict[str, str]) -> None:
        ids = list(prints)
        digests = [bytes.fromhex(prints[c]) for c in ids]
        async with self._db.connection(f"remembering ids of {platform_id}") as conn:
            await conn.execute(_REMEMBER, platform_id, ids, digests)

    async def _move_earlier(self, earlier: RedisClientHashes) -> None:
        moved = 0
        async for platform_id, prints in earlier.pages():
            await self._insert(platform_id, prints)
            await earlier.forget(platform_id, list(prints))
            moved += len(prints)
        if moved:
            log.info("client task ids moved from Redis to PostgreSQL", ids=moved)
