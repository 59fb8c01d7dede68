"""Was a missed deadline feasible? Yes if some worker who fits the pool was eligible for one
unbroken stretch of at least the task's effort between its arrival and its deadline (whether
that worker was busy does not matter: the scheduler could have kept them free).

Only missed tasks are asked about, but under a bad policy there can be many, so each pool's
eligibility spans are indexed once: sorted by start, with a running maximum of their ends (for
spans that began before the task arrived) and per-block maxima of their lengths (for spans
that began inside the task's life)."""

import bisect
from collections.abc import Iterable

_BLOCK = 256


class FeasibilityIndex:
    def __init__(self, spans: Iterable[tuple[float, float]]) -> None:
        ordered = sorted(spans)
        self._starts = [start for start, _ in ordered]
        self._lengths = [end - start for start, end in ordered]
        self._running_end: list[float] = []
        latest = float("-inf")
        for _, end in ordered:
            latest = max(latest, end)
            self._running_end.append(latest)
        self._block_max = [
            max(self._lengths[i : i + _BLOCK]) for i in range(0, len(self._lengths), _BLOCK)
        ]

    def feasible(self, arrived_at: float, deadline_at: float, effort_s: float) -> bool:
        if deadline_at - arrived_at < effort_s:
            return False
        before = bisect.bisect_right(self._starts, arrived_at) - 1
        if before >= 0 and self._running_end[before] >= arrived_at + effort_s:
            return True
        # Spans starting in (arrived_at, deadline_at - effort_s] only need to be long enough.
        low = before + 1
        high = bisect.bisect_right(self._starts, deadline_at - effort_s)
        return self._longest(low, high) >= effort_s

    def _longest(self, low: int, high: int) -> float:
        best = 0.0
        index = low
        while index < high:
            if index % _BLOCK == 0 and index + _BLOCK <= high:
                best = max(best, self._block_max[index // _BLOCK])
                index += _BLOCK
            else:
                best = max(best, self._lengths[index])
                index += 1
        return best
