"""Quality tallies in Redis: gold results and agreement with aggregates, each counted once
per submission.

Keys (under the prefix):
  quality:<platform>:<task type>:<worker>  hash  passed, failed (gold), agreed, disagreed
                                           (with settled aggregates); announced ("1"/"0"),
                                           claimed (tally version), pending ("1": not yet
                                           durable in Kafka)
  gold-counted:<submission_id>             string  set when that gold result was counted
  agreement-counted:<submission_id>        string  set when that agreement was counted
"""

from collections.abc import Sequence

import redis.asyncio as redis

from scoring.service_layer.ports import QualityTally

_TALLY_FIELDS = ("passed", "failed", "agreed", "disagreed")

_COUNT = """
if redis.call('SET', KEYS[2], '1', 'NX') then
  redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
end
return redis.call('HMGET', KEYS[1], 'passed', 'failed', 'agreed', 'disagreed')
"""

_CLAIM = """
local version = tonumber(ARGV[1])
local claimed = tonumber(redis.call('HGET', KEYS[1], 'claimed') or '-1')
if claimed > version then return 0 end
if claimed == version then
  if redis.call('HGET', KEYS[1], 'pending') == '1' then return 1 end
  return 0
end
local announced = redis.call('HGET', KEYS[1], 'announced') or '1'
redis.call('HSET', KEYS[1], 'claimed', version)
-- A change, or an older claim's announcement still pending (it says the same, newer).
if announced ~= ARGV[2] or redis.call('HGET', KEYS[1], 'pending') == '1' then
  redis.call('HSET', KEYS[1], 'announced', ARGV[2], 'pending', '1')
  return 1
end
redis.call('HSET', KEYS[1], 'pending', '0')
return 0
"""

_PUBLISHED = """
if redis.call('HGET', KEYS[1], 'claimed') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'pending', '0')
end
return 1
"""


class RedisQualityBook:
    def __init__(self, client: "redis.Redis", prefix: str = "scoring:") -> None:
        self._r = client
        self._p = prefix
        self._count = client.register_script(_COUNT)
        self._claim = client.register_script(_CLAIM)
        self._published = client.register_script(_PUBLISHED)

    def _key(self, worker_id: str, platform_id: str, task_type: str) -> str:
        return f"{self._p}quality:{platform_id}:{task_type}:{worker_id}"

    async def count_gold(
        self, submission_id: str, worker_id: str, platform_id: str, task_type: str, passed: bool
    ) -> QualityTally:
        counted = f"{self._p}gold-counted:{submission_id}"
        outcome = "passed" if passed else "failed"
        return await self._count_once(counted, worker_id, platform_id, task_type, outcome)

    async def count_agreement(
        self, submission_id: str, worker_id: str, platform_id: str, task_type: str, agreed: bool
    ) -> QualityTally:
        counted = f"{self._p}agreement-counted:{submission_id}"
        outcome = "agreed" if agreed else "disagreed"
        return await self._count_once(counted, worker_id, platform_id, task_type, outcome)

    async def _count_once(
        self, counted: str, worker_id: str, platform_id: str, task_type: str, outcome: str
    ) -> QualityTally:
        """Adds `outcome` to the worker's tally unless the `counted` mark says it was."""
        keys = [self._key(worker_id, platform_id, task_type), counted]
        return _tally(await self._count(keys=keys, args=[outcome]))

    async def tally(self, worker_id: str, platform_id: str, task_type: str) -> QualityTally:
        key = self._key(worker_id, platform_id, task_type)
        return _tally(await self._r.hmget(key, list(_TALLY_FIELDS)))

    async def claim(
        self, worker_id: str, platform_id: str, task_type: str, version: int, eligible: bool
    ) -> bool:
        keys = [self._key(worker_id, platform_id, task_type)]
        return bool(await self._claim(keys=keys, args=[version, "1" if eligible else "0"]))

    async def published(
        self, worker_id: str, platform_id: str, task_type: str, version: int
    ) -> None:
        keys = [self._key(worker_id, platform_id, task_type)]
        await self._published(keys=keys, args=[str(version)])


def _tally(counts: Sequence[bytes | str | None]) -> QualityTally:
    passed, failed, agreed, disagreed = (int(n or 0) for n in counts)
    return QualityTally(passed, failed, agreed, disagreed)
