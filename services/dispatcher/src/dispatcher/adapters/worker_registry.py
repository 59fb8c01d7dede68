"""Registered worker ids in Redis, and revoked tokens in the shared identity store.

`<prefix>worker-id:<id>` holds when an id was registered (SET NX makes the claim atomic).
Revocations live where every service that reads worker tokens can check them
(fairtask_runtime.revoked_tokens).
"""

from datetime import datetime

import redis.asyncio as redis

from fairtask_runtime.revoked_tokens import RevokedTokens


class RedisWorkerRegistry:
    def __init__(self, client: redis.Redis, prefix: str, revoked: RevokedTokens) -> None:
        self._r = client
        self._p = prefix
        self._revoked = revoked

    async def claim(self, worker_id: str, at: datetime) -> bool:
        created = await self._r.set(
            f"{self._p}worker-id:{worker_id}", int(at.timestamp() * 1000), nx=True
        )
        return bool(created)

    async def revoke(self, token_id: str, until: datetime) -> None:
        await self._revoked.revoke(token_id, until)

    async def is_revoked(self, token_id: str) -> bool:
        return await self._revoked.is_revoked(token_id)
