"""Rate limits per caller (a platform, a worker), so one client's flood cannot starve the rest.

A moving window in this process's memory (the `limits` library): each replica enforces the
limit on the calls it serves, which is what protects that replica. Limits are written as
`limits` parses them: "200/second", "20 per second", "1000/minute".
"""

import time

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


def parse_limit(text: str) -> limits.RateLimitItem:
    """Raises ValueError for a limit `limits` cannot read."""
    return limits.parse(text)


class RateLimit:
    def __init__(self, limit: str) -> None:
        self._item = parse_limit(limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.description = str(self._item)  # "200 per 1 second"

    def retry_after(self, key: str) -> float | None:
        """None when `key` may go ahead (the call is counted); otherwise the seconds until it
        may try again."""
        if self._limiter.hit(self._item, key):
            return None
        reset_at = self._limiter.get_window_stats(self._item, key).reset_time
        return max(reset_at - time.time(), 0.001)
