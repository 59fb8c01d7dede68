"""Pool exclusions in Redis: one set of pool names per excluded worker, shared by replicas.

Keys: <prefix>excluded:<worker_id>          set   pools the worker is kept out of
      <prefix>excluded-version:<worker_id>  hash  pool -> tally version last applied
"""

from collections.abc import Sequence

import redis.asyncio as redis

from dispatcher.adapters.values import as_text

_SET = """
local applied = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if applied >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if ARGV[2] == '1' then
  redis.call('SADD', KEYS[1], ARGV[1])
else
  redis.call('SREM', KEYS[1], ARGV[1])
end
return 1
"""


class RedisPoolExclusions:
    def __init__(self, client: "redis.Redis", prefix: str = "dispatch:") -> None:
        self._r = client
        self._p = prefix
        self._set = client.register_script(_SET)

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

    async def set(self, worker_id: str, pool: str, excluded: bool, version: int) -> bool:
        keys = [self._key(worker_id), f"{self._p}excluded-version:{worker_id}"]
        return bool(await self._set(keys=keys, args=[pool, "1" if excluded else "0", version]))
