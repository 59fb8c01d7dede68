"""The transition log: every change of a task, offer, lease or connection, in the order Redis
made them, as every dispatcher replica reads it back.

A store writes the entry in the same atomic step as the change. Replicas follow the log to
learn what the others did (offers to route to the workers they hold, outcomes for the pools
they own, who is connected and who is busy); the relay publishes it to Kafka as events.
"""

from dataclasses import dataclass
from datetime import datetime

from dispatcher.domain import events
from dispatcher.domain.events import OfferOutcome
from dispatcher.domain.model import Lease, Offer, Task
from dispatcher.service_layer.sessions import Hello


@dataclass(frozen=True)
class Queued:
    task: Task


@dataclass(frozen=True)
class Offered:
    offer: Offer
    # The policy that chose ("<replica>/<generation>"), the worker's region, and the
    # connection (replica and sequence number) that should push the offer.
    by: str
    region: str
    holder: str
    seq: int


@dataclass(frozen=True)
class OfferEnded:
    offer: Offer
    by: str
    outcome: OfferOutcome


# Why the dispatcher itself cancels a task (see `Cancelled.reason`).
DEADLINE_PASSED = "deadline passed"


@dataclass(frozen=True)
class Cancelled:
    task_id: str
    pool: str
    # The offer withdrawn by the cancellation, if the task was offered.
    offer_id: str = ""
    worker_id: str = ""
    by: str = ""
    # Set when the dispatcher itself cancelled the task (its deadline passed), so the log's
    # entry is what records it in Kafka; the platform API publishes its own cancellations.
    platform_id: str = ""
    reason: str = ""
    answer_of: str = ""


@dataclass(frozen=True)
class Assigned:
    lease: Lease
    by: str


@dataclass(frozen=True)
class Submitted:
    lease: Lease
    by: str
    submission_id: str
    answer: bytes
    worked_s: int


@dataclass(frozen=True)
class Released:
    lease: Lease
    by: str
    worked_s: int
    reason: str


@dataclass(frozen=True)
class Connected:
    hello: Hello
    seq: int
    holder: str
    # The lease the worker resumes, if any, with its task and the policy that offered it.
    lease_id: str = ""
    task_id: str = ""
    offer_id: str = ""
    by: str = ""


@dataclass(frozen=True)
class Disconnected:
    worker_id: str
    region: str
    seq: int
    holder: str


@dataclass(frozen=True)
class Noted:
    """An entry this replica wrote, read back only to keep its books in log order (it acted on
    the change when it made it): the entry's kind ("queued", "offered", "closed", "cancelled",
    "assigned", "submitted", "released", "connected", "disconnected") and the ids it names."""

    kind: str
    worker_id: str = ""
    task_id: str = ""
    offer_id: str = ""
    lease_id: str = ""
    by: str = ""


Change = (
    Queued
    | Offered
    | OfferEnded
    | Cancelled
    | Assigned
    | Submitted
    | Released
    | Connected
    | Disconnected
    | Noted
)


@dataclass(frozen=True)
class Transition:
    position: str  # in the log; increasing
    origin: str  # the replica that made the change
    at: datetime
    event_id: str  # "" when the change's event is published elsewhere
    change: Change


def event_of(transition: Transition) -> events.Event | None:
    """The Kafka event that records the change, or None for a change recorded elsewhere (the
    platform API publishes submissions and its own cancellations)."""
    match transition.change:
        case Cancelled(task_id, platform_id=platform_id, reason=reason, answer_of=answer_of) if (
            reason
        ):
            return events.TaskCancelled(task_id, platform_id, reason, answer_of)
        case Offered(offer, _, region):
            return events.TaskOffered(offer, region)
        case OfferEnded(offer, _, outcome):
            return events.OfferClosed(offer.offer_id, offer.task.task_id, offer.worker_id, outcome)
        case Assigned(lease):
            return events.TaskAssigned(lease)
        case Submitted(lease, _, submission_id, answer, worked_s):
            return events.SubmissionReceived(submission_id, lease, answer, worked_s, transition.at)
        case Released(lease, _, worked_s, reason):
            return events.LeaseReleased(lease, worked_s, reason)
        case Connected(hello):
            return events.WorkerPresenceChanged(hello.worker_id, hello.region, True, transition.at)
        case Disconnected(worker_id, region):
            return events.WorkerPresenceChanged(worker_id, region, False, transition.at)
    return None


def noted(change: Change) -> Noted:
    """What a replica keeps of an entry it wrote itself."""
    match change:
        case Offered(offer, by):
            return Noted("offered", offer.worker_id, offer.task.task_id, offer.offer_id, "", by)
        case OfferEnded(offer, by):
            return Noted("closed", offer.worker_id, offer.task.task_id, offer.offer_id, "", by)
        case Cancelled(task_id, _, offer_id, worker_id, by):
            return Noted("cancelled", worker_id, task_id, offer_id, "", by)
        case Assigned(lease, by) | Submitted(lease, by) | Released(lease, by):
            kind = {Assigned: "assigned", Submitted: "submitted", Released: "released"}
            lease_fields = (lease.task.task_id, lease.offer_id, lease.lease_id, by)
            return Noted(kind[type(change)], lease.worker_id, *lease_fields)
        case Connected(hello, _, _, lease_id, task_id, offer_id, by):
            return Noted("connected", hello.worker_id, task_id, offer_id, lease_id, by)
        case Queued(task):
            return Noted("queued", task_id=task.task_id)
        case Disconnected(worker_id):
            return Noted("disconnected", worker_id)
    raise ValueError(f"not an entry of the log: {change!r}")


def position_key(position: str) -> tuple[int, int]:
    """Log positions are "<ms>-<n>"; this orders them."""
    high, _, low = position.partition("-")
    return int(high), int(low or 0)
