"""In-memory fake of the worker registry (kept apart from memory.py, which holds the task
store's fakes). The contract suite in tests/contract runs it and the Redis one side by side."""

from datetime import datetime

from fairtask_runtime.clock import Clock


class MemoryWorkerRegistry:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._claimed: dict[str, datetime] = {}
        self._revoked: dict[str, datetime] = {}

    async def claim(self, worker_id: str, at: datetime) -> bool:
        if worker_id in self._claimed:
            return False
        self._claimed[worker_id] = at
        return True

    async def revoke(self, token_id: str, until: datetime) -> None:
        self._revoked[token_id] = max(until, self._revoked.get(token_id, until))

    async def is_revoked(self, token_id: str) -> bool:
        # As Redis forgets an expired key: after `until` the entry is gone.
        until = self._revoked.get(token_id)
        return until is not None and until > self._clock.now()
