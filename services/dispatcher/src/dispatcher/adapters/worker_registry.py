"""Registered worker ids and revoked tokens, in Redis.

`<prefix>worker-id:<id>` holds when an id was registered (SET NX makes the claim atomic);
`<prefix>revoked-token:<token id>` exists while a revoked token would otherwise still be valid,
so the revocation set empties itself as tokens expire.
"""

from datetime import datetime

import redis.asyncio as redis


class RedisWorkerRegistry:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._r = client
        self._p = prefix

    async def claim(self, worker_id: str, at: datetime) -> bool:
        created = await self._r.set(
            f"{self._p}worker-id:{worker_id}", int(at.timestamp() * 1000), nx=True
        )
        return bool(created)

    async def revoke(self, token_id: str, until: datetime) -> None:
        # PXAT in the past would be refused by Redis; such a token is expired, so refused anyway.
        until_ms = int(until.timestamp() * 1000)
        await self._r.set(f"{self._p}revoked-token:{token_id}", 1, pxat=max(until_ms, 1))

    async def is_revoked(self, token_id: str) -> bool:
        return bool(await self._r.exists(f"{self._p}revoked-token:{token_id}"))
