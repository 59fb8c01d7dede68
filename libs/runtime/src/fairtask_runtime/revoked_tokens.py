"""Revoked worker tokens, in the identity store every service reads (where platform API keys
live too), so a token signed out at the dispatcher is refused by payroll as well.

`<prefix><token id>` exists while a revoked token would otherwise still be valid, so the set
empties itself as tokens expire.
"""

from datetime import datetime
from typing import Protocol

import redis.asyncio as redis

from fairtask_runtime.clock import Clock

DEFAULT_PREFIX = "revoked-worker-tokens:"


class RevokedTokens(Protocol):
    async def revoke(self, token_id: str, until: datetime) -> None:
        """Makes `is_revoked(token_id)` true at least until `until` (the token's expiry, after
        which the token is refused anyway). Idempotent."""
        ...

    async def is_revoked(self, token_id: str) -> bool: ...


class RedisRevokedTokens:
    def __init__(self, client: "redis.Redis", prefix: str = DEFAULT_PREFIX) -> None:
        self._r = client
        self._p = prefix

    async def revoke(self, token_id: str, until: datetime) -> None:
        # PXAT in the past would be refused by Redis; such a token is expired, so refused anyway.
        until_ms = int(until.timestamp() * 1000)
        await self._r.set(f"{self._p}{token_id}", 1, pxat=max(until_ms, 1))

    async def is_revoked(self, token_id: str) -> bool:
        return bool(await self._r.exists(f"{self._p}{token_id}"))


class MemoryRevokedTokens:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._revoked: dict[str, datetime] = {}

    async def revoke(self, token_id: str, until: datetime) -> None:
        self._revoked[token_id] = max(until, self._revoked.get(token_id, until))

    async def is_revoked(self, token_id: str) -> bool:
        # As Redis forgets an expired key: after `until` the entry is gone.
        until = self._revoked.get(token_id)
        return until is not None and until > self._clock.now()
