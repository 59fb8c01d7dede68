"""In-memory fakes of the dispatcher's ports, for handler tests.

`MemoryTaskStore` mirrors `RedisTaskStore` and its Lua scripts step by step (the contract suite
in tests/contract runs against both), including the quirks a caller could observe: times kept
to the millisecond, queues ordered by arrival sequence, grace deadlines set only once.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from dispatcher.domain.errors import ConflictError, NotFoundError
from dispatcher.domain.events import Event, OfferOutcome
from dispatcher.domain.model import Lease, Offer, Task, TaskState, TaskStatus, TaskType
from dispatcher.service_layer.ports import Accepted, Cancellation

_E = TypeVar("_E")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class MemoryTaskTypes:
    def __init__(self) -> None:
        self._types: dict[tuple[str, str], TaskType] = {}

    async def put(self, platform_id: str, task_type: TaskType) -> None:
        self._types[(platform_id, task_type.name)] = task_type

    async def get_many(self, platform_id: str, names: Sequence[str]) -> dict[str, TaskType]:
        found = ((name, self._types.get((platform_id, name))) for name in names)
        return {name: task_type for name, task_type in found if task_type is not None}


@dataclass
class _TaskRecord:
    """The `task:<id>` hash: present from record_accepted or ingest, whichever comes first."""

    platform_id: str
    client_task_id: str
    task_type: str
    state: TaskState
    task: Task | None = None  # the `event` field, set by ingest
    seq: int | None = None
    offer_id: str | None = None
    worker_id: str | None = None
    lease_id: str | None = None


@dataclass(frozen=True)
class _OfferRecord:
    task_id: str
    worker_id: str
    expires_ms: int


@dataclass
class _LeaseRecord:
    task_id: str
    worker_id: str
    region: str
    offer_id: str
    leased_ms: int
    last_seen_ms: int
    state: str = "active"  # active | submitted | released
    draft: bytes = b""


class MemoryTaskStore:
    def __init__(self) -> None:
        self._clients: dict[str, dict[str, str]] = {}  # platform -> client id -> fingerprint
        self._tasks: dict[str, _TaskRecord] = {}
        self._pools: dict[str, tuple[str, ...]] = {}
        self._queues: dict[str, dict[str, int]] = {}  # pool -> task id -> arrival sequence
        self._seq = 0
        self._offers: dict[str, _OfferRecord] = {}
        self._leases: dict[str, _LeaseRecord] = {}
        self._worker_lease: dict[str, str] = {}
        self._active: dict[str, None] = {}  # an ordered set of active lease ids
        self._grace: dict[str, int] = {}  # lease id -> end of its grace period in ms
        self._in_transit: dict[str, set[str]] = {}  # platform -> accepted, not yet ingested

    async def fingerprints(
        self, platform_id: str, client_task_ids: Sequence[str]
    ) -> dict[str, str]:
        known = self._clients.get(platform_id, {})
        return {c: known[c] for c in client_task_ids if c in known}

    async def record_accepted(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        for a in accepted:
            self._clients.setdefault(platform_id, {})[a.client_task_id] = a.fingerprint
            if a.task_id not in self._tasks:
                self._tasks[a.task_id] = _TaskRecord(
                    platform_id, a.client_task_id, a.task_type, TaskState.QUEUED
                )
            if self._tasks[a.task_id].task is None:
                self._in_transit.setdefault(platform_id, set()).add(a.task_id)

    async def backlog(self, platform_id: str) -> int:
        queued = sum(
            len(queue) for pool, queue in self._queues.items() if pool.startswith(f"{platform_id}/")
        )
        return len(self._in_transit.get(platform_id, ())) + queued

    async def ingest(self, task: Task) -> bool:
        self._in_transit.get(task.platform_id, set()).discard(task.task_id)
        record = self._tasks.get(task.task_id)
        if record is not None and record.task is not None:
            return False
        if record is None:
            # No state yet: the HSET below leaves it unset until the task is queued.
            record = _TaskRecord(task.platform_id, "", "", TaskState.QUEUED)
            self._tasks[task.task_id] = record
            cancelled = False
        else:
            cancelled = record.state is TaskState.CANCELLED
        record.platform_id = task.platform_id
        record.client_task_id = task.client_task_id
        record.task_type = task.task_type.name
        record.task = task
        self._pools.setdefault(task.pool, task.task_type.skills)
        if cancelled:
            return False
        self._seq += 1
        record.state, record.seq = TaskState.QUEUED, self._seq
        self._queues.setdefault(task.pool, {})[task.task_id] = self._seq
        return True

    async def status(self, platform_id: str, task_id: str) -> TaskStatus | None:
        record = self._tasks.get(task_id)
        if record is None or record.platform_id != platform_id:
            return None
        return TaskStatus(
            task_id, record.client_task_id, record.task_type, record.state, record.worker_id or ""
        )

    async def cancel(self, platform_id: str, task_id: str) -> Cancellation:
        record = self._tasks.get(task_id)
        if record is None or record.platform_id != platform_id:
            raise NotFoundError(task_id)
        if record.state is TaskState.QUEUED:
            record.state = TaskState.CANCELLED
            if record.task is not None:
                self._queues.get(record.task.pool, {}).pop(task_id, None)
            return Cancellation(TaskState.CANCELLED)
        if record.state is TaskState.OFFERED:
            assert record.offer_id is not None
            assert record.task is not None
            offer = self._offers.pop(record.offer_id)
            withdrawn = Offer(record.offer_id, record.task, offer.worker_id, _at(offer.expires_ms))
            record.state, record.offer_id, record.worker_id = TaskState.CANCELLED, None, None
            return Cancellation(TaskState.CANCELLED, withdrawn)
        if record.state is TaskState.CANCELLED:
            return Cancellation(TaskState.CANCELLED)
        raise ConflictError(f"task is {record.state.value}; it can no longer be cancelled")

    async def known_pools(self) -> dict[str, tuple[str, ...]]:
        return dict(self._pools)

    async def take_for_offer(
        self, pools: Sequence[str], worker_id: str, offer_id: str, expires_at: datetime
    ) -> Offer | None:
        for pool in pools:
            queue = self._queues.get(pool, {})
            while queue:
                task_id = min(queue, key=lambda t: (queue[t], t))
                del queue[task_id]
                record = self._tasks[task_id]
                if record.state is not TaskState.QUEUED:
                    continue  # stale entry: dropped, as ZPOPMIN drops it
                assert record.task is not None
                record.state = TaskState.OFFERED
                record.offer_id, record.worker_id = offer_id, worker_id
                self._offers[offer_id] = _OfferRecord(task_id, worker_id, _ms(expires_at))
                return Offer(offer_id, record.task, worker_id, expires_at)
        return None

    async def offer_task(
        self, task_id: str, worker_id: str, offer_id: str, expires_at: datetime
    ) -> Offer | None:
        record = self._tasks.get(task_id)
        if record is None or record.state is not TaskState.QUEUED or record.task is None:
            return None
        self._queues.get(record.task.pool, {}).pop(task_id, None)
        record.state = TaskState.OFFERED
        record.offer_id, record.worker_id = offer_id, worker_id
        self._offers[offer_id] = _OfferRecord(task_id, worker_id, _ms(expires_at))
        return Offer(offer_id, record.task, worker_id, expires_at)

    async def queued_tasks(self) -> list[Task]:
        found: list[Task] = []
        for queue in self._queues.values():
            for task_id in sorted(queue, key=lambda t: (queue[t], t)):
                record = self._tasks[task_id]
                if record.state is TaskState.QUEUED and record.task is not None:
                    found.append(record.task)
        return found

    async def close_offer(
        self, offer_id: str, worker_id: str | None, outcome: OfferOutcome
    ) -> Offer | None:
        offer = self._offers.get(offer_id)
        if offer is None or (worker_id and offer.worker_id != worker_id):
            return None
        del self._offers[offer_id]
        record = self._tasks[offer.task_id]
        if record.state is TaskState.OFFERED and record.offer_id == offer_id:
            assert record.task is not None
            assert record.seq is not None
            record.state = TaskState.QUEUED
            record.offer_id = record.worker_id = None
            # Back at its original place: an unlucky task is not pushed behind later arrivals.
            self._queues.setdefault(record.task.pool, {})[offer.task_id] = record.seq
        assert record.task is not None
        return Offer(offer_id, record.task, offer.worker_id, _at(offer.expires_ms))

    async def expired_offers(self, now: datetime, limit: int) -> list[str]:
        due = sorted((o.expires_ms, i) for i, o in self._offers.items() if o.expires_ms <= _ms(now))
        return [offer_id for _, offer_id in due[:limit]]

    async def accept(
        self, offer_id: str, worker_id: str, lease_id: str, region: str, now: datetime
    ) -> Lease:
        offer = self._offers.get(offer_id)
        if offer is None or offer.worker_id != worker_id:
            raise NotFoundError(f"offer {offer_id} is not outstanding for you")
        if offer.expires_ms <= _ms(now):
            raise ConflictError(f"offer {offer_id} has expired")
        record = self._tasks[offer.task_id]
        if record.state is not TaskState.OFFERED or record.offer_id != offer_id:
            raise NotFoundError(f"offer {offer_id} is not outstanding for you")
        del self._offers[offer_id]
        record.state, record.lease_id, record.offer_id = TaskState.LEASED, lease_id, None
        self._leases[lease_id] = _LeaseRecord(
            offer.task_id, worker_id, region, offer_id, _ms(now), _ms(now)
        )
        self._worker_lease[worker_id] = lease_id
        self._active[lease_id] = None
        lease = await self.get_lease(lease_id)
        assert lease is not None
        return lease

    async def lease_of(self, worker_id: str) -> Lease | None:
        lease_id = self._worker_lease.get(worker_id)
        if lease_id is None:
            return None
        lease = await self.get_lease(lease_id)
        return lease if lease is not None and lease.active else None

    async def heartbeat(
        self, lease_id: str, worker_id: str, draft: bytes | None, now: datetime
    ) -> Lease:
        record = self._leases.get(lease_id)
        if record is None or record.worker_id != worker_id or record.state != "active":
            raise NotFoundError(f"lease {lease_id} is not your active lease")
        record.last_seen_ms = _ms(now)
        if draft is not None:
            record.draft = draft
        lease = await self.get_lease(lease_id)
        assert lease is not None
        return lease

    async def complete(self, lease_id: str, worker_id: str) -> bool:
        record = self._leases.get(lease_id)
        if record is None or record.worker_id != worker_id or record.state == "released":
            raise NotFoundError(f"lease {lease_id} is not yours")
        if record.state != "active":
            return False
        record.state = "submitted"
        self._tasks[record.task_id].state = TaskState.SUBMITTED
        self._end_lease(lease_id, record.worker_id)
        return True

    async def start_grace(self, lease_id: str, until: datetime) -> None:
        self._grace.setdefault(lease_id, _ms(until))

    async def end_grace(self, lease_id: str) -> None:
        self._grace.pop(lease_id, None)

    async def overdue_leases(self, now: datetime, limit: int) -> list[str]:
        due = sorted((ms, i) for i, ms in self._grace.items() if ms <= _ms(now))
        return [lease_id for _, lease_id in due[:limit]]

    async def release(self, lease_id: str) -> Lease | None:
        lease = await self.get_lease(lease_id)
        if lease is None:
            return None
        self._grace.pop(lease_id, None)
        record = self._leases[lease_id]
        if record.state != "active":
            return None
        record.state = "released"
        task = self._tasks[record.task_id]
        assert task.task is not None
        assert task.seq is not None
        task.state = TaskState.QUEUED
        task.lease_id = task.worker_id = None
        self._queues.setdefault(task.task.pool, {})[record.task_id] = task.seq
        self._end_lease(lease_id, record.worker_id)
        return lease

    async def active_leases(self) -> list[Lease]:
        leases = [await self.get_lease(i) for i in self._active]
        return [lease for lease in leases if lease is not None and lease.active]

    async def get_lease(self, lease_id: str) -> Lease | None:
        record = self._leases.get(lease_id)
        if record is None:
            return None
        task = self._tasks[record.task_id].task
        if task is None:
            return None
        return Lease(
            lease_id=lease_id,
            task=task,
            worker_id=record.worker_id,
            region=record.region,
            offer_id=record.offer_id,
            leased_at=_at(record.leased_ms),
            last_seen=_at(record.last_seen_ms),
            draft=record.draft,
            active=record.state == "active",
        )

    def outstanding_offers(self) -> list[tuple[str, str, str]]:
        """(offer id, task id, worker id) of every outstanding offer: for invariant tests."""
        return [(i, o.task_id, o.worker_id) for i, o in self._offers.items()]

    def _end_lease(self, lease_id: str, worker_id: str) -> None:
        if self._worker_lease.get(worker_id) == lease_id:
            del self._worker_lease[worker_id]
        self._active.pop(lease_id, None)
        self._grace.pop(lease_id, None)


class PublishFailedError(Exception):
    """What a `RecordingPublisher` told to fail raises: Kafka did not take the event."""


@dataclass
class RecordingPublisher:
    """Keeps every published event in order. Set `failing` to make `publish` raise, or
    `fail_after` to let that many more events through first."""

    events: list[Event] = field(default_factory=list)
    failing: bool = False
    fail_after: int | None = None

    async def publish(self, event: Event) -> None:
        if self.failing or self.fail_after == 0:
            raise PublishFailedError(f"cannot publish {type(event).__name__}")
        self.events.append(event)
        if self.fail_after is not None:
            self.fail_after -= 1

    async def publish_many(self, events: Sequence[Event]) -> None:
        for event in events:
            await self.publish(event)

    def of_type(self, kind: type[_E]) -> list[_E]:
        return [e for e in self.events if isinstance(e, kind)]
