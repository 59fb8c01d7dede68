"""What the scheduling tests check decisions against, written independently of the scheduler:
local time, windows with the default quiet hours, pool fit, and a factory for the policy."""

import importlib
import math
from collections.abc import Callable

from dispatcher.domain.scheduling.policy import (
    DAY_S,
    DispatchPolicy,
    TaskSpec,
    Window,
    WorkerProfile,
)

# Where the fair scheduler lives: the facade the issue names, else the module that holds it.
_SCHEDULER_MODULES = (
    "dispatcher.domain.scheduling.scheduler",
    "dispatcher.domain.scheduling.fair_share",
)
QUIET_HOURS_DEFAULT = (Window(7 * 60, 22 * 60),)


def fair_scheduler_factory() -> Callable[..., DispatchPolicy]:
    for name in _SCHEDULER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        factory = getattr(module, "FairScheduler", None)
        if factory is not None:
            return factory  # type: ignore[no-any-return]
    raise ImportError(f"no FairScheduler in {_SCHEDULER_MODULES}")


def new_policy(offer_ttl_s: float = 120.0) -> DispatchPolicy:
    return fair_scheduler_factory()(offer_ttl_s=offer_ttl_s)


def local_minute(profile: WorkerProfile, now: float) -> float:
    return ((now + profile.utc_offset_s) % DAY_S) / 60.0


def local_day(profile: WorkerProfile, now: float) -> int:
    return math.floor((now + profile.utc_offset_s) / DAY_S)


def in_window(profile: WorkerProfile, now: float) -> bool:
    """Inside one of the worker's windows (07:00-22:00 local when they gave none)."""
    minute = local_minute(profile, now)
    for window in profile.windows or QUIET_HOURS_DEFAULT:
        if window.start_min < window.end_min:
            if window.start_min <= minute < window.end_min:
                return True
        elif minute >= window.start_min or minute < window.end_min:
            return True
    return False


def fits(profile: WorkerProfile, task: TaskSpec) -> bool:
    if task.sensitive and not profile.sensitive_opt_in:
        return False
    return all(skill in profile.skills for skill in task.skills)


def utc_of_local(day: int, hour: float, utc_offset_s: int) -> float:
    """The policy-clock time of `hour` o'clock local time on local day `day` (t=0 is UTC
    midnight of day 0)."""
    return day * DAY_S + hour * 3600 - utc_offset_s
