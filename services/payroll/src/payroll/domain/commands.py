"""Commands: requests to pay a worker, built from the events that earn the pay."""

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class PayForTask:
    """Pay the task's price for work its platform approved (or a deadline did), kept despite
    a rejection, or lost on appeal: escrow moves to the worker."""

    submission_id: str
    task_id: str
    worker_id: str
    region: str
    platform_id: str
    task_type: str
    price_micros: int
    worked_seconds: int
    source_event_id: str


@dataclass(frozen=True)
class PayForTimeWorked:
    """Pay the time spent on a task lost to a disconnect, at the pay floor."""

    lease_id: str
    task_id: str
    worker_id: str
    region: str
    platform_id: str
    task_type: str
    worked_seconds: int
    source_event_id: str


class OnboardingKind(StrEnum):
    QUALIFICATION = "qualification"
    TRAINING = "training"
    INSTRUCTIONS = "instructions"


@dataclass(frozen=True)
class PayForOnboarding:
    """Pay a qualification, training or instruction step at the floor, charged to the
    platform whose task type it prepared the worker for."""

    onboarding_id: str
    worker_id: str
    region: str
    platform_id: str
    task_type: str
    kind: OnboardingKind
    seconds: int
    source_event_id: str


@dataclass(frozen=True)
class GetStatement:
    worker_id: str
