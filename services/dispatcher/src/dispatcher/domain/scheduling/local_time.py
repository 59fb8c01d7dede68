"""Availability windows in a worker's local time, as absolute times on the policy's clock."""

import math

from dispatcher.domain.scheduling.policy import DAY_S, Window, WorkerProfile

# Nobody is woken up: without stated windows a worker is available 07:00-22:00 local time.
QUIET_HOURS_WINDOWS = (Window(7 * 60, 22 * 60),)


def windows_of(worker: WorkerProfile) -> tuple[Window, ...]:
    return worker.windows or QUIET_HOURS_WINDOWS


def _intervals(worker: WorkerProfile, local: float) -> list[tuple[float, float]]:
    """Merged [start, end) intervals of availability, in local seconds, from yesterday to the
    day after tomorrow (enough to answer for `local` and what follows it)."""
    day = local - (local % DAY_S)
    raw: list[tuple[float, float]] = []
    for offset in (-DAY_S, 0, DAY_S, 2 * DAY_S):
        for window in windows_of(worker):
            start, end = float(window.start_min * 60), float(window.end_min * 60)
            if end <= start:
                end += DAY_S  # wraps midnight
            raw.append((day + offset + start, day + offset + end))
    raw.sort()
    merged: list[tuple[float, float]] = []
    for start, end in raw:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def window_state(worker: WorkerProfile, now: float) -> tuple[bool, float]:
    """Whether `now` is inside one of the worker's windows, and when that next changes."""
    offset = worker.utc_offset_s
    local = now + offset
    for start, end in _intervals(worker, local):
        if start <= local < end:
            return True, end - offset
        if local < start:
            return False, start - offset
    return False, math.inf


def next_opening(worker: WorkerProfile, after: float) -> tuple[float, float]:
    """The next time strictly after `after` at which a window opens, and how long it stays
    open (in s); (inf, 0) when the worker has no window at all."""
    offset = worker.utc_offset_s
    local = after + offset
    for start, end in _intervals(worker, local):
        if start > local:
            return start - offset, end - start
    return math.inf, 0.0


def local_day(worker: WorkerProfile, now: float) -> int:
    return int((now + worker.utc_offset_s) // DAY_S)
