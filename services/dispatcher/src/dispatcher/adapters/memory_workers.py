"""In-memory fake of the worker registry (kept apart from memory.py, which holds the task
store's fakes). The contract suite in tests/contract runs it and the Redis one side by side."""

from datetime import datetime

from fairtask_runtime.clock import Clock
from fairtask_runtime.revoked_tokens import MemoryRevokedTokens


class MemoryWorkerRegistry:
    def __init__(self, clock: Clock) -> None:
        self._claimed: dict[str, datetime] = {}
        self._revoked = MemoryRevokedTokens(clock)

    async def claim(self, worker_id: str, at: datetime) -> bool:
        if worker_id in self._claimed:
            return False
        self._claimed[worker_id] = at
        return True

    async def revoke(self, token_id: str, until: datetime) -> None:
        await self._revoked.revoke(token_id, until)

    async def is_revoked(self, token_id: str) -> bool:
        return await self._revoked.is_revoked(token_id)
