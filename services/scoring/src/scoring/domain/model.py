"""What scoring knows about tasks, submissions and the results it releases to platforms."""

import enum
from dataclasses import dataclass
from datetime import datetime


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    GOLD_PASSED = "gold_passed"
    GOLD_FAILED = "gold_failed"


@dataclass(frozen=True)
class TaskRecord:
    """The part of a submitted task that scoring needs later; the payload is not kept."""

    task_id: str
    platform_id: str
    client_task_id: str
    task_type: str
    # Empty unless this is a gold (control) task. Never leaves scoring.
    gold_answer: str = ""

    @property
    def is_gold(self) -> bool:
        return self.gold_answer != ""


@dataclass(frozen=True)
class Submission:
    """A worker's answer to a leased task, as the dispatcher reported it."""

    submission_id: str
    task_id: str
    worker_id: str
    answer: bytes
    lease_id: str = ""
    region: str = ""
    platform_id: str = ""
    client_task_id: str = ""
    task_type: str = ""
    worked_seconds: int = 0
    effort_seconds: int = 0
    price_micros: int = 0
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class Result:
    """An accepted answer released to the platform that owns the task."""

    submission_id: str
    platform_id: str
    task_id: str
    client_task_id: str
    task_type: str
    worker_id: str
    answer: bytes
    released_at: datetime


@dataclass(frozen=True)
class ResultEntry:
    """A released result at its place in the platform's log; `cursor` resumes after it."""

    cursor: str
    result: Result
