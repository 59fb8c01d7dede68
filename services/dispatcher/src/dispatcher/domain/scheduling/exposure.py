"""Exposure budgets for sensitive content: opt-in, a daily cap, and breaks.

Sensitive work (violence, sexual content, hate, self-harm) is offered only to a worker who
opted in, only while the effort already reserved on their local day plus the task's effort
stays within their cap (`WorkerProfile.exposure_cap_s`, default 4 h a day), and not while they
are due a break: after an hour of sensitive work they get at least 15 minutes without it (other
work is still offered meanwhile). The budget is reserved when the offer is made, on the local
day of the offer (the day the worker sees the content), and released if they decline or the
offer lapses. A lease that is lost is not released: the worker has seen the content.
"""

import math
from dataclasses import dataclass

from dispatcher.domain.scheduling.policy import DAY_S, TaskSpec, WorkerProfile


@dataclass(frozen=True, slots=True)
class ExposureRules:
    break_after_s: float = 3600.0
    break_s: float = 900.0


DEFAULT_RULES = ExposureRules()


class Exposure:
    """One worker's exposure: sensitive effort reserved per local day, and the current run of
    sensitive work since their last break."""

    __slots__ = ("_day", "_last_end_s", "_open", "_reserved", "_rules", "_run_s", "_used_s")

    def __init__(self, rules: ExposureRules = DEFAULT_RULES) -> None:
        self._rules = rules
        self._day = -(2**62)
        self._used_s = 0.0
        # Sensitive effort since the last break, when the last sensitive task ended, and the
        # sensitive offers or leases still open (a break starts only once they end).
        self._run_s = 0.0
        self._last_end_s = -math.inf
        self._open = 0
        self._reserved: dict[str, tuple[int, float]] = {}

    @staticmethod
    def local_day(profile: WorkerProfile, now: float) -> int:
        return math.floor((now + profile.utc_offset_s) / DAY_S)

    def used_s(self, profile: WorkerProfile, now: float) -> float:
        """Sensitive effort reserved on the worker's local day of `now`."""
        return self._used_s if self.local_day(profile, now) == self._day else 0.0

    def allows(self, profile: WorkerProfile, task: TaskSpec, now: float) -> bool:
        if not task.sensitive:
            return True
        if not profile.sensitive_opt_in:
            return False
        if self.used_s(profile, now) + task.effort_s > profile.exposure_cap_s + 1e-9:
            return False
        run = self._run_now(now)
        # A task longer than a whole run is allowed on its own, straight after a break.
        return run + task.effort_s <= self._rules.break_after_s or run == 0.0

    def reserve(self, profile: WorkerProfile, task: TaskSpec, now: float) -> None:
        """Charges an offer of `task` (no-op for work that is not sensitive)."""
        if not task.sensitive:
            return
        day = self.local_day(profile, now)
        if day != self._day:
            self._day, self._used_s = day, 0.0
        self._used_s += task.effort_s
        self._run_s = self._run_now(now) + task.effort_s
        self._open += 1
        self._reserved[task.task_id] = (day, task.effort_s)

    def release(self, task: TaskSpec) -> None:
        """The offer was declined or lapsed: nothing was seen, the reservation is returned."""
        reserved = self._reserved.pop(task.task_id, None)
        if reserved is None:
            return
        day, effort_s = reserved
        if day == self._day:
            self._used_s = max(0.0, self._used_s - effort_s)
        self._run_s = max(0.0, self._run_s - effort_s)
        self._open = max(0, self._open - 1)

    def finished(self, task: TaskSpec, worked_s: float, now: float) -> None:
        """A sensitive lease ended (completed or lost): the break clock starts now."""
        if self._reserved.pop(task.task_id, None) is None:
            return
        self._open = max(0, self._open - 1)
        self._last_end_s = now

    def _run_now(self, now: float) -> float:
        if self._open == 0 and now - self._last_end_s >= self._rules.break_s:
            return 0.0
        return self._run_s
