"""Pool exclusions in Redis: one set of pool names per excluded worker, shared by replicas.

Key: <prefix>excluded:<worker_id>  set  pools the worker is kept out of
"""

from collections.abc import Sequence

import redis.asyncio as redis

from dispatcher.adapters.values import as_text


class RedisPoolExclusions:
    def __init__(self, client: "redis.Redis", prefix: str = "dispatch:") -> None:
        self._r = client
        self._p = prefix

    def _key(self, worker_id: str) -> str:
        return f"{self._p}excluded:{worker_id}"

    async def of(self, worker_id: str) -> frozenset[str]:
        return frozenset(as_text(p) for p in await self._r.smembers(self._key(worker_id)))

    async def of_many(self, worker_ids: Sequence[str]) -> dict[str, frozenset[str]]:
        async with self._r.pipeline(transaction=False) as pipe:
            for worker_id in worker_ids:
                pipe.smembers(self._key(worker_id))
            replies = await pipe.execute()
        return {
            worker_id: frozenset(as_text(p) for p in pools)
            for worker_id, pools in zip(worker_ids, replies, strict=True)
        }

    async def set(self, worker_id: str, pool: str, excluded: bool) -> None:
        if excluded:
            await self._r.sadd(self._key(worker_id), pool)
        else:
            await self._r.srem(self._key(worker_id), pool)
