"""What the dispatcher's handlers need from the outside world."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from dispatcher.domain.events import Event, OfferOutcome
from dispatcher.domain.model import Lease, Offer, Task, TaskState, TaskStatus, TaskType
from dispatcher.service_layer.sessions import Hello
from dispatcher.service_layer.transitions import Transition


@dataclass(frozen=True)
class Accepted:
    client_task_id: str
    task_id: str
    fingerprint: str
    task_type: str


@dataclass(frozen=True)
class Cancellation:
    state: TaskState
    withdrawn: Offer | None = None


class IdState(StrEnum):
    # A call began to publish under it: bound to that content for ever, since the task may
    # be out; a call with that content publishes it again (downstream takes a task once by
    # its id) until one has published it.
    PUBLISHING = "publishing"
    PUBLISHED = "published"


@dataclass(frozen=True)
class ClientTaskRecord:
    fingerprint: str
    state: IdState


@dataclass(frozen=True)
class TaskOutcome:
    """What became of a task: SUBMITTED (answered by `worker_id`), CANCELLED or EXPIRED; with
    the platform's id for it and its type when the event says them."""

    task_id: str
    state: TaskState
    worker_id: str = ""
    client_task_id: str = ""
    task_type: str = ""

    @property
    def final(self) -> bool:
        return self.state is TaskState.SUBMITTED


def last_words(outcomes: Sequence[TaskOutcome]) -> dict[str, TaskOutcome]:
    """The last outcome of each task in a batch, a submission final: what recording the batch
    in order leaves."""
    last: dict[str, TaskOutcome] = {}
    for done in outcomes:
        prior = last.get(done.task_id)
        if prior is None or not prior.final:
            last[done.task_id] = done
    return last


class ClientTaskIds(Protocol):
    """Every client task id each platform has used, with its content's fingerprint, for ever:
    task ids are derived from them, so an id whose task may have been published names that
    task and its content for ever. Every method raises SubmissionsUnavailableError when the
    record cannot be reached."""

    async def recorded(
        self, platform_id: str, client_task_ids: Sequence[str]
    ) -> dict[str, ClientTaskRecord]:
        """What is recorded of these ids; ids never used are absent. An id whose task has an
        outcome is published, even if the call that published it failed before saying so (a
        repeat of that call must not run the task again once Redis has let it go)."""
        ...

    async def start_publishing(
        self, platform_id: str, accepted: Sequence[Accepted]
    ) -> dict[str, str]:
        """Binds every id to its content, all or none: returns {} when done, else the
        fingerprints of the ids another call bound to other content (nothing changed)."""
        ...

    async def mark_published(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        """Records the ids as published where recorded with this content, and those not
        recorded at all. Idempotent."""
        ...

    async def record_outcomes(self, outcomes: Sequence[TaskOutcome]) -> None:
        """Records what became of these tasks, and their names where missing; ids not recorded
        here (further answers' copies), and those whose names are known neither here nor from
        the outcome, are passed over. A submission is final: a cancellation after it changes
        nothing. Idempotent."""
        ...

    async def outcome(self, platform_id: str, task_id: str) -> TaskStatus | None:
        """What became of the platform's task; None when unknown, another platform's, not done
        yet, or recorded before outcomes were."""
        ...


class TaskTypeStore(Protocol):
    async def put(self, platform_id: str, task_type: TaskType) -> None:
        """Creates or replaces a task type. Idempotent."""
        ...

    async def get_many(self, platform_id: str, names: Sequence[str]) -> dict[str, TaskType]:
        """The known ones among `names`; unknown names are simply absent."""
        ...


@dataclass(frozen=True)
class OfferWanted:
    """An offer a policy decided on: `offer_task`'s arguments but the time."""

    task_id: str
    worker_id: str
    offer_id: str
    expires_at: datetime
    region: str
    by: str


@dataclass(frozen=True)
class OfferMade:
    """What `offer_task` did: the offer, or why not ("task": it is not queued any more;
    "worker": they are busy, or not connected to a live replica)."""

    offer: Offer | None
    refused: str = ""
    # The connection that should push the offer: its replica and sequence number.
    holder: str = ""
    seq: int = 0


@dataclass(frozen=True)
class OfferClosedNow:
    offer: Offer
    by: str  # the policy that had made it


@dataclass(frozen=True)
class LeaseReleasedNow:
    lease: Lease
    by: str
    worked_s: int


@dataclass(frozen=True)
class Connection:
    seq: int
    # The lease the worker resumes (its grace period is over), and the offer an earlier
    # connection still had, now withdrawn.
    lease: Lease | None
    withdrawn: OfferClosedNow | None
    by: str = ""  # the policy that offered the resumed lease


@dataclass(frozen=True)
class Disconnection:
    ended: bool  # False when this was not the worker's current connection
    withdrawn: OfferClosedNow | None = None


@dataclass(frozen=True)
class OnlineWorker:
    hello: Hello
    seq: int
    holder: str
    # The offer or lease the worker holds, if any (ids as in `Connected`).
    task_id: str = ""
    offer_id: str = ""
    lease_id: str = ""
    by: str = ""


class TaskStore(Protocol):
    """Task, offer, lease and connection state. Every transition is atomic across dispatcher
    replicas, and appends its entry to the transition log in the same step (`origin` names the
    replica this store acts for)."""

    async def record_accepted(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        """Marks the tasks QUEUED and counts them in their platform's backlog until ingested.
        Idempotent."""
        ...

    async def backlog(self, platform_id: str) -> int:
        """How many of the platform's tasks wait: accepted and not yet ingested, or queued."""
        ...

    async def ingest(self, task: Task, now: datetime) -> bool:
        """Queues a submitted task; False if it was already ingested or was cancelled, or is a
        further answer's copy whose task is settled or no longer known."""
        ...

    async def ingest_many(self, tasks: Sequence[Task], now: datetime) -> list[bool]:
        """`ingest` of each task, in order, in one round trip; each task is atomic on its own."""
        ...

    async def task(self, task_id: str) -> Task | None:
        """The task as it was queued, None if it never was (yet)."""
        ...

    async def status(self, platform_id: str, task_id: str) -> TaskStatus | None:
        """None when unknown or owned by another platform."""
        ...

    async def settle(self, task_id: str, copy_ids: Sequence[str]) -> None:
        """Scoring settled this task several workers answer: no further copy will be built
        from it or queued, so it and its copies (`copy_ids`) need keeping only as any task
        done."""
        ...

    async def cancel(self, platform_id: str, task_id: str, ahead: bool = False) -> Cancellation:
        """Raises NotFoundError, or ConflictError when the task is leased or done. `ahead`:
        a task not known yet (an answer's copy not asked for) is recorded as cancelled, so
        it is never queued when it is asked for later."""
        ...

    async def overdue_tasks(self, now: datetime, limit: int) -> list[Task]:
        """Up to `limit` tasks whose deadline passed by `now`, earliest first, as they were
        queued: those still waiting, and those `expire` found offered or leased and will
        look at again (when the offer ends; at `recheck_at` for a lease)."""
        ...

    async def expire(
        self, task: Task, later_answers: Sequence[str], now: datetime, recheck_at: datetime
    ) -> bool:
        """Expires an overdue task if it is still queued (True): no worker will be offered it,
        and the log records it as cancelled because its deadline passed (the relay publishes
        that as TaskCancelled). Each of `later_answers` (the answers' copies after it) not
        known yet is recorded as cancelled the same way, so it is never queued. A task found
        offered or leased is looked at again later; done or cancelled, it is forgotten."""
        ...

    async def known_pools(self) -> dict[str, tuple[str, ...]]:
        """Every pool ever ingested, with the skills it requires."""
        ...

    async def offer_task(
        self,
        task_id: str,
        worker_id: str,
        offer_id: str,
        expires_at: datetime,
        region: str,
        by: str,
        now: datetime,
    ) -> OfferMade:
        """Moves this queued task into an offer to this worker, if the task is still queued and
        the worker is connected to a live replica with no offer or lease."""
        ...

    async def offer_tasks(self, wanted: Sequence[OfferWanted], now: datetime) -> list[OfferMade]:
        """`offer_task` for each, in order, each its own atomic step, in one round trip; what
        each did, in the same order. Raises if the store could not be reached, or refused a
        step: then some of the offers may have been made."""
        ...

    async def queued_tasks(self, pools: Sequence[str]) -> list[Task]:
        """Every queued task of these pools, in queue order per pool."""
        ...

    async def queue_depth(self, pools: Sequence[str]) -> int:
        """How many tasks wait in these pools' queues (one round trip)."""
        ...

    async def close_offer(
        self, offer_id: str, worker_id: str | None, outcome: OfferOutcome, now: datetime
    ) -> OfferClosedNow | None:
        """Ends an outstanding offer and requeues its task; None if it was not outstanding
        (or, when worker_id is given, not that worker's)."""
        ...

    async def expired_offers(self, now: datetime, limit: int) -> list[str]: ...

    async def accept(
        self, offer_id: str, worker_id: str, lease_id: str, region: str, now: datetime
    ) -> Lease:
        """Turns the worker's live offer into a lease. Raises NotFoundError when the offer is
        unknown or someone else's, ConflictError when it has expired."""
        ...

    async def lease_of(self, worker_id: str) -> Lease | None:
        """The worker's active lease, if any."""
        ...

    async def heartbeat(
        self, lease_id: str, worker_id: str, draft: bytes | None, now: datetime
    ) -> Lease:
        """Raises NotFoundError when the lease is not this worker's active lease."""
        ...

    async def complete(
        self,
        lease_id: str,
        worker_id: str,
        answer: bytes,
        worked_s: int,
        submission_id: str,
        now: datetime,
    ) -> bool:
        """Marks the lease submitted and records the submission; False if it already was.
        Raises NotFoundError when the lease is not this worker's (or was released)."""
        ...

    async def overdue_leases(self, now: datetime, limit: int) -> list[str]: ...

    async def release(
        self, lease_id: str, reason: str, now: datetime, overdue: bool = False
    ) -> LeaseReleasedNow | None:
        """Ends an active lease (paying the time up to its last sign of life) and requeues its
        task; None if it was not active. With `overdue`, only if its grace period is running and
        ran out by `now`, checked in the same step: a worker back since it was found overdue
        keeps it."""
        ...

    async def get_lease(self, lease_id: str) -> Lease | None:
        """None when unknown; an ended one may be None too (a store need not keep it)."""
        ...

    async def lease_worker(self, lease_id: str) -> str | None:
        """Whose the lease is, active or ended, while the store keeps it."""
        ...

    async def connect_worker(self, hello: Hello, now: datetime) -> Connection:
        """Records the worker as connected here, superseding any earlier connection."""
        ...

    async def disconnect_worker(
        self,
        worker_id: str,
        seq: int | None,
        holder: str | None,
        last_seen: datetime | None,
        grace_until: datetime,
        now: datetime,
    ) -> Disconnection:
        """Ends the worker's connection if it is still connection `seq` (or any connection held
        by replica `holder`): withdraws their offer and starts their lease's grace period.
        `last_seen` None keeps the lease's last heartbeat as the time worked."""
        ...

    async def online_workers(self) -> list[OnlineWorker]:
        """Every connected worker, on any replica."""
        ...


class TransitionLog(Protocol):
    """The transition log, replica liveness and the relay's turn. Positions order entries."""

    async def end(self) -> str:
        """The position of the latest entry ("0-0" when there is none)."""
        ...

    async def read(
        self, after: str, limit: int, wait_s: float, noting: str = ""
    ) -> list[Transition]:
        """Entries after `after`, oldest first; waits up to `wait_s` for one if there is none.
        Entries written by replica `noting` come as `Noted`, without their tasks."""
        ...

    async def read_up_to(self, replica: str, position: str) -> None:
        """Records how far the replica has read: entries before are kept until then."""
        ...

    async def beat(self, replica: str, alive_until: datetime) -> None:
        """The replica counts as alive (its connections too) until then."""
        ...

    async def dead(self, now: datetime) -> list[str]:
        """Replicas whose liveness ran out."""
        ...

    async def alive(self, now: datetime) -> list[str]:
        """Replicas whose liveness has not run out."""
        ...

    async def connections_of(self, replica: str) -> list[str]:
        """The workers whose connection a replica held."""
        ...

    async def forget(self, replica: str) -> None:
        """Drops a replica's liveness and read position. Idempotent."""
        ...

    async def lead(self, replica: str, ttl_s: float) -> bool:
        """True if this replica is (now) the one relaying the log to Kafka, for `ttl_s`."""
        ...

    async def published(self) -> str:
        """Where the relay has got to."""
        ...

    async def mark_published(self, position: str, now: datetime) -> None:
        """Entries up to `position` are in Kafka; ones every live replica has read are dropped."""
        ...


@dataclass(frozen=True)
class RecordedEvent:
    """An event the transition log recorded, with the id and time it was given there."""

    event_id: str
    at: datetime
    event: Event


class EventPublisher(Protocol):
    async def publish(self, event: Event) -> None:
        """Returns once the event is durable in Kafka; raises if it could not be made so."""
        ...

    async def publish_many(self, events: Sequence[Event]) -> None:
        """As `publish` for several events in one round trip; raises if any is not durable."""
        ...

    async def publish_recorded(self, recorded: Sequence[RecordedEvent]) -> None:
        """Publishes recorded events in order, keeping their ids and times, so that publishing
        one again after a crash makes a duplicate consumers skip. Raises if any is not
        durable."""
        ...


class Escrow(Protocol):
    """Payroll's escrow, asked before any task is accepted."""

    async def hold(self, platform_id: str, prices: Sequence[tuple[str, int]]) -> None:
        """Holds each (task id, price) from the platform's funds, all or none, idempotently
        per task id. Raises InsufficientEscrowError or EscrowUnavailableError."""
        ...


class PoolExclusions(Protocol):
    """Pools each worker is kept out of because scoring measured their quality on that task
    type below its bar. Shared by every replica."""

    async def of(self, worker_id: str) -> frozenset[str]: ...

    async def of_many(self, worker_ids: Sequence[str]) -> dict[str, frozenset[str]]:
        """Every named worker's exclusions (empty for most), in one round trip."""
        ...

    async def set(self, worker_id: str, pool: str, excluded: bool, version: int) -> bool:
        """Records the estimate of tally `version` unless a newer one was recorded (estimates
        of one worker arrive out of order); True when it was. Idempotent."""
        ...


class LocalExclusions:
    """Exclusions kept in this process only: for a single process and for tests."""

    def __init__(self) -> None:
        self.excluded: dict[str, set[str]] = {}
        self.versions: dict[tuple[str, str], int] = {}

    async def of(self, worker_id: str) -> frozenset[str]:
        return frozenset(self.excluded.get(worker_id, ()))

    async def of_many(self, worker_ids: Sequence[str]) -> dict[str, frozenset[str]]:
        return {w: frozenset(self.excluded.get(w, ())) for w in worker_ids}

    async def set(self, worker_id: str, pool: str, excluded: bool, version: int) -> bool:
        if self.versions.get((worker_id, pool), -1) >= version:
            return False
        self.versions[(worker_id, pool)] = version
        pools = self.excluded.setdefault(worker_id, set())
        if excluded:
            pools.add(pool)
        else:
            pools.discard(pool)
        return True


class WorkerRecords(Protocol):
    """What payroll and scoring keep about a worker, asked with the worker's own token (they
    check it and answer only about that worker). JSON-ready answers; PeerRefusedError when
    they refuse or are away."""

    async def statement(self, token: str, worker_id: str) -> dict[str, Any]: ...

    async def reviews(self, token: str, page_token: str) -> dict[str, Any]: ...

    async def appeal(self, token: str, submission_id: str, statement: str) -> dict[str, Any]: ...
