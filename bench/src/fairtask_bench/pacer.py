"""Feeding work in: either a little ahead of what workers take (to find the most a server
sustains) or at a fixed rate (to measure delays at a given load)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

_TICK_S = 0.005
_IN_FLIGHT = 8

# Queues `count` tasks; returns how many were refused (backpressure), which are not counted.
SubmitBatch = Callable[[int], Awaitable[int]]


@dataclass
class Pacer:
    submit: SubmitBatch
    batch: int
    submitted: int = 0
    refused: int = 0
    _calls: set[asyncio.Task[None]] = field(default_factory=set)

    async def keep_ahead(self, taken: Callable[[], int], backlog: int, stop: asyncio.Event) -> None:
        """Submits whenever fewer than `backlog` submitted tasks are waiting for a worker,
        until `stop` is set."""
        while not stop.is_set():
            self._send(taken() + backlog - self.submitted)
            await asyncio.sleep(_TICK_S)

    async def paced(self, rate_per_s: float, stop: asyncio.Event) -> None:
        """Submits `rate_per_s` tasks a second, a batch every tick, until `stop` is set."""
        began, base = time.monotonic(), self.submitted
        while not stop.is_set():
            self._send(int((time.monotonic() - began) * rate_per_s) - (self.submitted - base))
            await asyncio.sleep(_TICK_S)

    async def drain(self) -> None:
        """Waits for the calls still in flight."""
        while self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)

    def _send(self, wanted: int) -> None:
        while wanted > 0 and len(self._calls) < _IN_FLIGHT:
            count = min(wanted, self.batch)
            call = asyncio.create_task(self._submit(count))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)
            self.submitted += count
            wanted -= count

    async def _submit(self, count: int) -> None:
        refused = await self.submit(count)
        if refused:
            # Not retried here: the next tick asks again for what is still due.
            self.submitted -= refused
            self.refused += refused
            await asyncio.sleep(0.05)
