"""What the dispatcher's handlers need from the outside world."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dispatcher.domain.events import Event, OfferOutcome
from dispatcher.domain.model import Lease, Offer, Task, TaskState, TaskStatus, TaskType


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


class TaskTypeStore(Protocol):
    async def put(self, platform_id: str, task_type: TaskType) -> None:
        """Creates or replaces a task type. Idempotent."""
        ...

    async def get_many(self, platform_id: str, names: Sequence[str]) -> dict[str, TaskType]:
        """The known ones among `names`; unknown names are simply absent."""
        ...


class TaskStore(Protocol):
    """Task, offer and lease state. Every transition is atomic across dispatcher replicas."""

    async def fingerprints(
        self, platform_id: str, client_task_ids: Sequence[str]
    ) -> dict[str, str]:
        """Content fingerprints of earlier submissions with these ids."""
        ...

    async def record_accepted(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        """Remembers client ids and marks the tasks QUEUED. Idempotent."""
        ...

    async def backlog(self, platform_id: str) -> int:
        """How many of the platform's tasks wait: accepted and not yet ingested, or queued."""
        ...

    async def ingest(self, task: Task) -> bool:
        """Queues a submitted task; False if it was already ingested or was cancelled."""
        ...

    async def status(self, platform_id: str, task_id: str) -> TaskStatus | None:
        """None when unknown or owned by another platform."""
        ...

    async def cancel(self, platform_id: str, task_id: str) -> Cancellation:
        """Raises NotFoundError, or ConflictError when the task is leased or done."""
        ...

    async def known_pools(self) -> dict[str, tuple[str, ...]]:
        """Every pool ever ingested, with the skills it requires."""
        ...

    async def take_for_offer(
        self, pools: Sequence[str], worker_id: str, offer_id: str, expires_at: datetime
    ) -> Offer | None:
        """Moves the oldest queued task of the first non-empty pool into an offer."""
        ...

    async def offer_task(
        self, task_id: str, worker_id: str, offer_id: str, expires_at: datetime
    ) -> Offer | None:
        """Moves this queued task into an offer to this worker; None if it is not queued."""
        ...

    async def queued_tasks(self) -> list[Task]:
        """Every queued task, in queue order per pool (to rebuild a scheduler after restart)."""
        ...

    async def close_offer(
        self, offer_id: str, worker_id: str | None, outcome: OfferOutcome
    ) -> Offer | None:
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

    async def complete(self, lease_id: str, worker_id: str) -> bool:
        """Marks the lease submitted; False if it already was. Raises NotFoundError when the
        lease is not this worker's (or was released)."""
        ...

    async def start_grace(self, lease_id: str, until: datetime) -> None: ...

    async def end_grace(self, lease_id: str) -> None: ...

    async def overdue_leases(self, now: datetime, limit: int) -> list[str]: ...

    async def release(self, lease_id: str) -> Lease | None:
        """Ends an active lease and requeues its task; None if it was not active."""
        ...

    async def active_leases(self) -> list[Lease]: ...

    async def get_lease(self, lease_id: str) -> Lease | None: ...


class EventPublisher(Protocol):
    async def publish(self, event: Event) -> None:
        """Returns once the event is durable in Kafka; raises if it could not be made so."""
        ...

    async def publish_many(self, events: Sequence[Event]) -> None:
        """As `publish` for several events in one round trip; raises if any is not durable."""
        ...
