"""`MemoryTransitionLog` mirrors `RedisTransitionLog` over a `MemoryState`."""

import asyncio
from dataclasses import replace
from datetime import datetime

from dispatcher.adapters.memory_state import MemoryState
from dispatcher.adapters.values import to_ms
from dispatcher.service_layer.transitions import Transition, noted, position_key


class MemoryTransitionLog:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    async def end(self) -> str:
        return self._s.log[-1].position if self._s.log else "0-0"

    async def read(
        self, after: str, limit: int, wait_s: float, noting: str = ""
    ) -> list[Transition]:
        await asyncio.sleep(0)  # tests drive the followers; nobody waits for new entries here
        start = position_key(after)
        found = [t for t in self._s.log if position_key(t.position) > start][:limit]
        return [replace(t, change=noted(t.change)) if t.origin == noting else t for t in found]

    async def read_up_to(self, replica: str, position: str) -> None:
        self._s.cursors[replica] = position

    async def beat(self, replica: str, alive_until: datetime) -> None:
        self._s.replicas[replica] = to_ms(alive_until)

    async def dead(self, now: datetime) -> list[str]:
        now_ms = to_ms(now)
        return [r for r, until in self._s.replicas.items() if until < now_ms]

    async def alive(self, now: datetime) -> list[str]:
        now_ms = to_ms(now)
        return [r for r, until in self._s.replicas.items() if until >= now_ms]

    async def connections_of(self, replica: str) -> list[str]:
        return [w for w, conn in self._s.conns.items() if conn.holder == replica]

    async def forget(self, replica: str) -> None:
        self._s.replicas.pop(replica, None)
        self._s.cursors.pop(replica, None)

    async def lead(self, replica: str, ttl_s: float) -> bool:
        if self._s.relay in ("", replica):
            self._s.relay = replica
            return True
        return False

    async def published(self) -> str:
        return self._s.published

    async def mark_published(self, position: str, now: datetime) -> None:
        s = self._s
        s.published = position
        now_ms = to_ms(now)
        read = [c for r, c in s.cursors.items() if s.replicas.get(r, 0) >= now_ms]
        floor = min([position, *read], key=position_key)
        s.log = [t for t in s.log if position_key(t.position) > position_key(floor)]
