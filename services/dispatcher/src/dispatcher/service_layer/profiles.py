"""What the scheduling policy needs to know about workers and tasks, from what they told us."""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatcher.domain.availability import parse_windows
from dispatcher.domain.errors import InvalidInputError, Violation
from dispatcher.domain.model import Task
from dispatcher.domain.scheduling.policy import TaskSpec, WorkerProfile
from dispatcher.service_layer.sessions import Hello


def worker_profile(hello: Hello, now: datetime) -> WorkerProfile:
    """Raises InvalidInputError naming the hello field that is wrong.

    The UTC offset is taken at connection time; a DST change applies from the next connection.
    """
    problems: list[Violation] = []
    try:
        offset = ZoneInfo(hello.time_zone).utcoffset(now)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory
        offset = None
        problems.append(Violation("hello.time_zone", f"unknown time zone {hello.time_zone!r}"))
    windows, bad = parse_windows(hello.availability, "hello.availability")
    problems += bad
    if problems:
        raise InvalidInputError(problems)
    return WorkerProfile(
        worker_id=hello.worker_id,
        region=hello.region,
        utc_offset_s=int(offset.total_seconds()) if offset is not None else 0,
        windows=windows,
        skills=hello.skills,
        sensitive_opt_in=hello.sensitive_opt_in,
        excluded_pools=hello.excluded_pools,
    )


def task_spec(task: Task) -> TaskSpec:
    return TaskSpec(
        task_id=task.task_id,
        pool=task.pool,
        platform=task.platform_id,
        effort_s=float(task.task_type.effort_seconds),
        arrived_at=task.submitted_at.timestamp(),
        deadline_at=task.deadline.timestamp() if task.deadline is not None else None,
        skills=task.task_type.skills,
        sensitive=task.task_type.sensitive,
        gold=bool(task.gold_answer),
        answered_by=frozenset(task.answered_by),
    )
