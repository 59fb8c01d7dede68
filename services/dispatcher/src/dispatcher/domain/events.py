"""Events the dispatcher records: every state change is also one of these on Kafka."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dispatcher.domain.model import Lease, Offer, Task


class OfferOutcome(StrEnum):
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class TaskSubmitted:
    task: Task


@dataclass(frozen=True)
class TaskOffered:
    offer: Offer
    region: str


@dataclass(frozen=True)
class OfferClosed:
    offer_id: str
    task_id: str
    worker_id: str
    outcome: OfferOutcome


@dataclass(frozen=True)
class TaskAssigned:
    lease: Lease


@dataclass(frozen=True)
class LeaseReleased:
    lease: Lease
    worked_seconds: int
    reason: str


@dataclass(frozen=True)
class TaskCancelled:
    task_id: str
    platform_id: str
    reason: str
    # For a further answer's copy, the platform's task it would have answered.
    answer_of: str = ""


@dataclass(frozen=True)
class SubmissionReceived:
    submission_id: str
    lease: Lease
    answer: bytes
    worked_seconds: int
    submitted_at: datetime


@dataclass(frozen=True)
class WorkerPresenceChanged:
    worker_id: str
    region: str
    connected: bool
    at: datetime


Event = (
    TaskSubmitted
    | TaskOffered
    | OfferClosed
    | TaskAssigned
    | LeaseReleased
    | TaskCancelled
    | SubmissionReceived
    | WorkerPresenceChanged
)
