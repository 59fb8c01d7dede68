"""What scoring knows about tasks, submissions and the results it releases to platforms."""

import enum
from dataclasses import dataclass
from datetime import datetime

from scoring.domain.overlap import OverlapPolicy


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
    # How many workers answer the task (None: one). Read from the platform's task itself;
    # a gold task never overlaps, whatever its type says.
    overlap: OverlapPolicy | None = None
    # On a copy that carries a further answer: the platform's task it answers, and which
    # answer it is (2, 3, ...). Empty and 0 on the platform's task itself (answer 1).
    answer_of: str = ""
    answer_number: int = 0

    @property
    def is_gold(self) -> bool:
        return self.gold_answer != ""

    @property
    def platform_task_id(self) -> str:
        """The platform's own task: this one, or the one this copy answers."""
        return self.answer_of or self.task_id

    @property
    def answer_position(self) -> int:
        """Which answer to the platform's task this is (1 for the task itself)."""
        return max(self.answer_number, 1)


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
    """An accepted answer released to the platform that owns the task, or the aggregate of
    several workers' answers to it (`aggregate`: no worker, no submission of its own)."""

    submission_id: str
    platform_id: str
    task_id: str
    client_task_id: str
    task_type: str
    worker_id: str
    answer: bytes
    released_at: datetime
    aggregate: bool = False
    # Set on aggregates only: the answer's posterior, how many answers it rests on, and
    # whether it reached the task type's confidence target.
    confidence: float = 0.0
    answers: int = 0
    confident: bool = False

    @property
    def release_key(self) -> str:
        """What a result is released once per: its submission, or for an aggregate its task
        (prefixed, so it can never collide with a submission id)."""
        return f"aggregate:{self.task_id}" if self.aggregate else self.submission_id


@dataclass(frozen=True)
class ResultEntry:
    """A released result at its place in the platform's log; `cursor` resumes after it."""

    cursor: str
    result: Result
