"""Local time of day as a worker lives it: availability windows, their boundaries, the night.

Times are seconds of virtual UTC (t=0 is Monday 00:00 UTC); a worker's local time is that plus
their UTC offset. Window boundaries always fall on whole local minutes, hence on whole UTC
seconds, which is what lets `next_boundary` round away float noise.
"""

import math
from collections.abc import Sequence

from dispatcher.domain.scheduling.policy import DAY_S, Window

NIGHT_START_S = 22 * 3600
NIGHT_END_S = 7 * 3600
# A gap this small between two times is float noise, not a real instant.
_EPSILON_S = 1e-6


def local_day(now: float, utc_offset_s: int) -> int:
    """The index of the worker's local calendar day (day 0 starts at local midnight of t=0)."""
    return math.floor((now + utc_offset_s) / DAY_S)


def _second_of_day(now: float, utc_offset_s: int) -> float:
    """The worker's local second of the day; float noise next to a whole second is that
    second (boundaries fall on whole seconds, and `inside` and `next_boundary` must agree)."""
    second = (now + utc_offset_s) % DAY_S
    whole = round(second)
    return whole % DAY_S if abs(second - whole) <= _EPSILON_S else second


def inside(windows: Sequence[Window], now: float, utc_offset_s: int) -> bool:
    second = _second_of_day(now, utc_offset_s)
    for window in windows:
        start, end = window.start_min * 60, window.end_min * 60
        if start < end:
            if start <= second < end:
                return True
        elif second >= start or second < end:
            return True
    return False


def next_boundary(windows: Sequence[Window], now: float, utc_offset_s: int) -> float:
    """The first time strictly after `now` at which `inside` may change (at most a day on)."""
    second = _second_of_day(now, utc_offset_s)
    best = float(DAY_S)
    for window in windows:
        for boundary in (window.start_min * 60, (window.end_min * 60) % DAY_S):
            ahead = (boundary - second) % DAY_S or float(DAY_S)  # at one: the next is a day on
            best = min(best, ahead)
    at = float(round(now + best))
    return at if at > now else at + DAY_S


def daily_overlap_s(start: float, end: float, utc_offset_s: int, from_s: int, to_s: int) -> float:
    """Seconds of [start, end) that fall in the local daily span [from_s, to_s), which wraps
    midnight when to_s <= from_s (the night, 22:00-07:00, is such a span)."""
    if end <= start:
        return 0.0
    local_start, local_end = start + utc_offset_s, end + utc_offset_s
    total = 0.0
    wraps = to_s <= from_s
    first_day = math.floor(local_start / DAY_S) - (1 if wraps else 0)
    last_day = math.floor(local_end / DAY_S)
    for day in range(first_day, last_day + 1):
        span_start = day * DAY_S + from_s
        span_end = (day + 1) * DAY_S + to_s if wraps else day * DAY_S + to_s
        total += max(0.0, min(local_end, span_end) - max(local_start, span_start))
    return total


def night_overlap_s(start: float, end: float, utc_offset_s: int) -> float:
    # Most work is done in the day: answer that without the general loop.
    local_start = (start + utc_offset_s) % DAY_S
    if local_start >= NIGHT_END_S and local_start + (end - start) <= NIGHT_START_S:
        return 0.0
    return daily_overlap_s(start, end, utc_offset_s, NIGHT_START_S, NIGHT_END_S)


def window_spans(
    windows: Sequence[Window], utc_offset_s: int, until_s: float
) -> list[tuple[float, float]]:
    """The UTC spans in [0, until_s) inside any window, merged and sorted."""
    spans: list[tuple[float, float]] = []
    first_day = math.floor(utc_offset_s / DAY_S) - 1
    last_day = math.floor((until_s + utc_offset_s) / DAY_S) + 1
    for day in range(first_day, last_day + 1):
        midnight_utc = day * DAY_S - utc_offset_s
        for window in windows:
            start = midnight_utc + window.start_min * 60
            length = (window.end_min - window.start_min) * 60
            if length <= 0:
                length += DAY_S
            spans.append((float(start), float(start + length)))
    return merge_spans(spans, 0.0, until_s)


def merge_spans(
    spans: list[tuple[float, float]], low: float, high: float
) -> list[tuple[float, float]]:
    """Sorted, merged, clipped to [low, high); empty spans dropped."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        start, end = max(start, low), min(end, high)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
