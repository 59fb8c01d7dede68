"""What the dispatcher knows about task types, tasks, offers and leases."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

_ID_NAMESPACE = uuid.UUID("5f7a4c2e-9a57-4b8e-8f0a-6f1f0d6f2b11")


class TaskState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    LEASED = "leased"
    SUBMITTED = "submitted"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Overlap:
    """Several workers answer each task of a type, one after another, until scoring is
    confident of the answer (`confidence_target`) or `max_answers` have answered."""

    min_answers: int
    max_answers: int
    confidence_target: float
    answer_classes: int = 2


@dataclass(frozen=True)
class TaskType:
    name: str
    purpose: str
    price_micros: int
    effort_seconds: int
    skills: tuple[str, ...] = ()
    sensitive: bool = False
    # None: one answer per task.
    overlap: Overlap | None = None

    @property
    def most_answers(self) -> int:
        """How many answers (each paid the price) one task may need at most."""
        return self.overlap.max_answers if self.overlap is not None else 1


@dataclass(frozen=True)
class NewTask:
    client_task_id: str
    task_type: str
    payload: bytes
    deadline: datetime | None = None
    gold_answer: str = ""


@dataclass(frozen=True)
class Task:
    """A task accepted for dispatch, with everything an offer shows."""

    task_id: str
    platform_id: str
    client_task_id: str
    task_type: TaskType
    pool: str
    payload: bytes
    deadline: datetime | None
    gold_answer: str
    submitted_at: datetime
    # On a further answer's copy: the platform's task it answers, which answer it is, and the
    # workers who answered before, to whom it is never offered.
    answer_of: str = ""
    answer_number: int = 1
    answered_by: tuple[str, ...] = ()

    @property
    def answers(self) -> int:
        """How many answers this task's set may need: its type's most for a platform's task,
        one for a gold task (answered once) and for a further answer's copy (its original
        counts them)."""
        return 1 if self.answer_of or self.gold_answer else self.task_type.most_answers


@dataclass(frozen=True)
class TaskStatus:
    task_id: str
    client_task_id: str
    task_type: str
    state: TaskState
    worker_id: str
    # As Task.answers; None while accepted and not yet queued.
    answers: int | None = None


@dataclass(frozen=True)
class Offer:
    offer_id: str
    task: Task
    worker_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Lease:
    lease_id: str
    task: Task
    worker_id: str
    region: str
    offer_id: str
    leased_at: datetime
    # Last sign of life: a heartbeat, or the moment the connection dropped.
    last_seen: datetime
    draft: bytes = b""
    active: bool = True

    def worked_seconds(self) -> int:
        return max(int((self.last_seen - self.leased_at).total_seconds()), 0)


def task_id_for(platform_id: str, client_task_id: str) -> str:
    """Deterministic, so a retried submission names the same task even after a crash."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{platform_id}\x00{client_task_id}"))


def submission_id_for(lease_id: str) -> str:
    """Deterministic, so a lease can be paid at most once however often it is submitted."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"submission\x00{lease_id}"))


def pool_of(platform_id: str, task_type: str) -> str:
    return f"{platform_id}/{task_type}"
