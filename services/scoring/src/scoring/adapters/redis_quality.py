"""Gold tallies in Redis, counted once per submission.

Keys (under the prefix):
  quality:<platform>:<task type>:<worker>  hash  passed, failed, announced ("1"/"0")
  gold-counted:<submission_id>             string  set when that result was counted
"""

import redis.asyncio as redis

from scoring.service_layer.ports import GoldTally

_COUNT = """
if redis.call('SET', KEYS[2], '1', 'NX') then
  redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
end
return redis.call('HMGET', KEYS[1], 'passed', 'failed', 'announced')
"""


class RedisQualityBook:
    def __init__(self, client: "redis.Redis", prefix: str = "scoring:") -> None:
        self._r = client
        self._p = prefix
        self._count = client.register_script(_COUNT)

    def _key(self, worker_id: str, platform_id: str, task_type: str) -> str:
        return f"{self._p}quality:{platform_id}:{task_type}:{worker_id}"

    async def count_gold(
        self, submission_id: str, worker_id: str, platform_id: str, task_type: str, passed: bool
    ) -> GoldTally:
        keys = [
            self._key(worker_id, platform_id, task_type),
            f"{self._p}gold-counted:{submission_id}",
        ]
        passed_n, failed_n, announced = await self._count(
            keys=keys, args=["passed" if passed else "failed"]
        )
        return GoldTally(
            int(passed_n or 0),
            int(failed_n or 0),
            None if announced is None else announced in (b"1", "1"),
        )

    async def announced(
        self, worker_id: str, platform_id: str, task_type: str, eligible: bool
    ) -> None:
        await self._r.hset(
            self._key(worker_id, platform_id, task_type), "announced", "1" if eligible else "0"
        )
