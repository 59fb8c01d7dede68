"""Rate limits per caller (a platform, a worker), so one client's flood cannot starve the rest.

A moving window in this process's memory: each replica enforces the limit on the calls it
serves, which is what protects that replica. Limits are written as the `limits` library parses
them: "200/second", "20 per second", "1000/minute".

The window is kept here rather than in `limits`' memory storage, which sweeps every key from a
thread of its own a hundred times a second (a new thread each time): with thousands of workers
connected that costs the process's one busy event loop CPU and GIL hand-overs on every sweep.
Used from the event loop only, it needs no lock; keys idle for a whole window are dropped at
most once per window.
"""

import time
from collections import deque
from collections.abc import Callable

import limits


def parse_limit(text: str) -> limits.RateLimitItem:
    """Raises ValueError for a limit `limits` cannot read."""
    return limits.parse(text)


class RateLimit:
    def __init__(self, limit: str, clock: Callable[[], float] = time.monotonic) -> None:
        item = parse_limit(limit)
        self._amount = item.amount
        self._window_s = float(item.get_expiry())
        self._clock = clock
        # The moments of each key's calls still inside the window, oldest first.
        self._calls: dict[str, deque[float]] = {}
        self._swept_at = clock()
        self.description = str(item)  # "200 per 1 second"

    def retry_after(self, key: str) -> float | None:
        """None when `key` may go ahead (the call is counted); otherwise the seconds until it
        may try again."""
        now = self._clock()
        if now - self._swept_at >= self._window_s:
            self._sweep(now)
        calls = self._calls.get(key)
        if calls is None:
            calls = self._calls[key] = deque()
        while calls and calls[0] < now - self._window_s:
            calls.popleft()
        if len(calls) >= self._amount:
            # Free again once the oldest call in the window leaves it.
            oldest = calls[0] if calls else now
            return max(oldest + self._window_s - now, 0.001)
        calls.append(now)
        return None

    def _sweep(self, now: float) -> None:
        self._swept_at = now
        idle = [key for key, calls in self._calls.items() if calls[-1] < now - self._window_s]
        for key in idle:
            del self._calls[key]
