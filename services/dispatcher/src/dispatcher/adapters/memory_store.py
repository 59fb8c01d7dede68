"""`MemoryTaskStore` mirrors `RedisTaskStore` and its Lua scripts step by step (the contract
suite in tests/contract runs against both), including the quirks a caller could observe: times
kept to the millisecond, queues ordered by arrival sequence, grace deadlines set only once.

Several stores can share one `MemoryState`, as replicas share one Redis (`replica()`).
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from dispatcher.adapters.memory_connections import MemoryConnections
from dispatcher.adapters.memory_state import LeaseRecord, MemoryState, OfferRecord, TaskRecord
from dispatcher.adapters.values import from_ms, to_ms
from dispatcher.domain.errors import ConflictError, NotFoundError
from dispatcher.domain.events import Event, OfferOutcome
from dispatcher.domain.model import Lease, Offer, Task, TaskState, TaskStatus
from dispatcher.service_layer.ports import (
    Accepted,
    Cancellation,
    Connection,
    Disconnection,
    LeaseReleasedNow,
    OfferClosedNow,
    OfferMade,
    OfferWanted,
    OnlineWorker,
)
from dispatcher.service_layer.sessions import Hello
from dispatcher.service_layer.transitions import (
    DEADLINE_PASSED,
    Assigned,
    Cancelled,
    Change,
    Offered,
    OfferEnded,
    Queued,
    Released,
    Submitted,
    Transition,
    event_of,
)
from fairtask_runtime.envelope import new_event_id


class MemoryTaskStore:
    def __init__(
        self,
        origin: str = "replica",
        state: MemoryState | None = None,
        events: list[Event] | None = None,
    ) -> None:
        self.state = state or MemoryState(published_events=events)
        self.origin = origin
        self._connections = MemoryConnections(self)
        # A lone store (the unit tests' single dispatcher) counts its replica as alive.
        self.state.replicas.setdefault(origin, 2**62)

    def replica(self, origin: str) -> "MemoryTaskStore":
        """Another replica's view of the same state."""
        return MemoryTaskStore(origin, self.state)

    def note(self, at: datetime, change: Change, event_id: str = "") -> None:
        """Appends to the transition log (and hands its event to the tests' Kafka)."""
        s = self.state
        s.logged += 1
        at = from_ms(to_ms(at))  # Redis keeps milliseconds
        entry = Transition(f"0-{s.logged}", self.origin, at, event_id, change)
        s.log.append(entry)
        event = event_of(entry) if event_id else None
        if event is not None and s.published_events is not None:
            s.published_events.append(event)

    async def record_accepted(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        s = self.state
        for a in accepted:
            if a.task_id not in s.tasks:
                s.tasks[a.task_id] = TaskRecord(
                    platform_id, a.client_task_id, a.task_type, TaskState.QUEUED
                )
            if s.tasks[a.task_id].task is None:
                s.in_transit.setdefault(platform_id, set()).add(a.task_id)

    async def backlog(self, platform_id: str) -> int:
        s = self.state
        queued = sum(
            len(queue) for pool, queue in s.queues.items() if pool.startswith(f"{platform_id}/")
        )
        return len(s.in_transit.get(platform_id, ())) + queued

    async def ingest_many(self, tasks: Sequence[Task], now: datetime) -> list[bool]:
        return [await self.ingest(task, now) for task in tasks]

    async def ingest(self, task: Task, now: datetime) -> bool:
        s = self.state
        s.in_transit.get(task.platform_id, set()).discard(task.task_id)
        record = s.tasks.get(task.task_id)
        if record is not None and record.task is not None:
            return False
        if record is None and task.answer_of:
            original = s.tasks.get(task.answer_of)
            if original is None or original.settled:
                return False  # asked for after its task was settled: no longer wanted
        if record is None:
            # No state yet: the HSET below leaves it unset until the task is queued.
            record = TaskRecord(task.platform_id, "", "", TaskState.QUEUED)
            s.tasks[task.task_id] = record
            cancelled = False
        else:
            cancelled = record.state is TaskState.CANCELLED
        record.platform_id = task.platform_id
        record.client_task_id = task.client_task_id
        record.task_type = task.task_type.name
        record.task = task
        s.pools.setdefault(task.pool, task.task_type.skills)
        if cancelled:
            return False
        s.seq += 1
        record.state, record.seq = TaskState.QUEUED, s.seq
        s.queues.setdefault(task.pool, {})[task.task_id] = s.seq
        if task.deadline is not None:
            s.deadlines[task.task_id] = to_ms(task.deadline)
        self.note(now, Queued(task))
        return True

    async def status(self, platform_id: str, task_id: str) -> TaskStatus | None:
        record = self.state.tasks.get(task_id)
        if record is None or record.platform_id != platform_id:
            return None
        return TaskStatus(
            task_id,
            record.client_task_id,
            record.task_type,
            record.state,
            record.worker_id or "",
            record.task.answers if record.task is not None else None,
        )

    async def task(self, task_id: str) -> Task | None:
        record = self.state.tasks.get(task_id)
        return record.task if record is not None else None

    async def settle(self, task_id: str, copy_ids: Sequence[str]) -> None:
        # This store keeps every task for its life: nothing to let go of sooner.
        record = self.state.tasks.get(task_id)
        if record is not None:
            record.settled = True

    async def cancel(self, platform_id: str, task_id: str, ahead: bool = False) -> Cancellation:
        s = self.state
        record = s.tasks.get(task_id)
        if record is None and ahead:
            s.tasks[task_id] = TaskRecord(platform_id, "", "", TaskState.CANCELLED)
            return Cancellation(TaskState.CANCELLED)
        if record is None or record.platform_id != platform_id:
            raise NotFoundError(task_id)
        now = datetime.now(UTC)
        pool = record.task.pool if record.task is not None else ""
        if record.state in (TaskState.QUEUED, TaskState.OFFERED):
            s.deadlines.pop(task_id, None)
        if record.state is TaskState.QUEUED:
            record.state = TaskState.CANCELLED
            s.queues.get(pool, {}).pop(task_id, None)
            self.note(now, Cancelled(task_id, pool))
            return Cancellation(TaskState.CANCELLED)
        if record.state is TaskState.OFFERED:
            assert record.offer_id is not None
            assert record.task is not None
            offer_id = record.offer_id
            offer = s.offers.pop(offer_id)
            if s.worker_offer.get(offer.worker_id) == offer_id:
                del s.worker_offer[offer.worker_id]
            withdrawn = Offer(offer_id, record.task, offer.worker_id, from_ms(offer.expires_ms))
            record.state, record.offer_id, record.worker_id = TaskState.CANCELLED, None, None
            self.note(now, Cancelled(task_id, pool, offer_id, offer.worker_id, offer.by))
            return Cancellation(TaskState.CANCELLED, withdrawn)
        if record.state is TaskState.CANCELLED:
            return Cancellation(TaskState.CANCELLED)
        raise ConflictError(f"task is {record.state.value}; it can no longer be cancelled")

    async def overdue_tasks(self, now: datetime, limit: int) -> list[Task]:
        s, now_ms = self.state, to_ms(now)
        due = sorted((ms, task_id) for task_id, ms in s.deadlines.items() if ms <= now_ms)
        found: list[Task] = []
        for _, task_id in due[:limit]:
            record = s.tasks.get(task_id)
            if record is None or record.task is None:
                del s.deadlines[task_id]
            else:
                found.append(record.task)
        return found

    async def expire(
        self, task: Task, later_answers: Sequence[str], now: datetime, recheck_at: datetime
    ) -> bool:
        s, task_id = self.state, task.task_id
        record = s.tasks.get(task_id)
        state = record.state if record is not None else None
        if state is TaskState.OFFERED:
            assert record is not None
            offer = s.offers.get(record.offer_id or "")
            s.deadlines[task_id] = offer.expires_ms if offer is not None else to_ms(now)
            return False
        if state is TaskState.LEASED:
            s.deadlines[task_id] = to_ms(recheck_at)
            return False
        s.deadlines.pop(task_id, None)
        if record is None or state is not TaskState.QUEUED:
            return False
        record.state = TaskState.EXPIRED
        s.queues.get(task.pool, {}).pop(task_id, None)
        platform_id = record.platform_id
        expired = Cancelled(
            task_id,
            task.pool,
            platform_id=platform_id,
            reason=DEADLINE_PASSED,
            answer_of=task.answer_of,
        )
        self.note(now, expired, new_event_id())
        original = task.answer_of or task_id
        for copy_id in later_answers:
            if copy_id not in s.tasks:
                s.tasks[copy_id] = TaskRecord(platform_id, "", "", TaskState.CANCELLED)
                change = Cancelled(
                    copy_id,
                    "",
                    platform_id=platform_id,
                    reason=DEADLINE_PASSED,
                    answer_of=original,
                )
                self.note(now, change, new_event_id())
        return True

    async def known_pools(self) -> dict[str, tuple[str, ...]]:
        return dict(self.state.pools)

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
        s = self.state
        record = s.tasks.get(task_id)
        if record is None or record.state is not TaskState.QUEUED or record.task is None:
            return OfferMade(None, "task")
        conn = s.conns.get(worker_id)
        if conn is None or s.replicas.get(conn.holder, 0) < to_ms(now):
            return OfferMade(None, "worker")
        if worker_id in s.worker_offer or worker_id in s.worker_lease:
            return OfferMade(None, "worker")
        s.queues.get(record.task.pool, {}).pop(task_id, None)
        record.state = TaskState.OFFERED
        record.offer_id, record.worker_id = offer_id, worker_id
        s.offers[offer_id] = OfferRecord(task_id, worker_id, to_ms(expires_at), by)
        s.worker_offer[worker_id] = offer_id
        offer = Offer(offer_id, record.task, worker_id, expires_at)
        change = Offered(offer, by, region, conn.holder, conn.seq)
        self.note(now, change, new_event_id())
        return OfferMade(offer, holder=conn.holder, seq=conn.seq)

    async def offer_tasks(self, wanted: Sequence[OfferWanted], now: datetime) -> list[OfferMade]:
        return [
            await self.offer_task(
                w.task_id, w.worker_id, w.offer_id, w.expires_at, w.region, w.by, now
            )
            for w in wanted
        ]

    async def queue_depth(self, pools: Sequence[str]) -> int:
        return len(await self.queued_tasks(pools))

    async def queued_tasks(self, pools: Sequence[str]) -> list[Task]:
        found: list[Task] = []
        for pool in pools:
            queue = self.state.queues.get(pool, {})
            for task_id in sorted(queue, key=lambda t: (queue[t], t)):
                record = self.state.tasks[task_id]
                if record.state is TaskState.QUEUED and record.task is not None:
                    found.append(record.task)
        return found

    async def close_offer(
        self, offer_id: str, worker_id: str | None, outcome: OfferOutcome, now: datetime
    ) -> OfferClosedNow | None:
        offer = self.state.offers.get(offer_id)
        if offer is None or (worker_id and offer.worker_id != worker_id):
            return None
        return self.withdraw(offer_id, outcome, now)

    def withdraw(
        self, offer_id: str, outcome: OfferOutcome, now: datetime
    ) -> OfferClosedNow | None:
        """CLOSE_OFFER without the check of whose it is (shared with the connections)."""
        s = self.state
        offer = s.offers.pop(offer_id, None)
        if offer is None:
            return None
        if s.worker_offer.get(offer.worker_id) == offer_id:
            del s.worker_offer[offer.worker_id]
        record = s.tasks[offer.task_id]
        assert record.task is not None
        if record.state is TaskState.OFFERED and record.offer_id == offer_id:
            assert record.seq is not None
            record.state = TaskState.QUEUED
            record.offer_id = record.worker_id = None
            # Back at its original place: an unlucky task is not pushed behind later arrivals.
            s.queues.setdefault(record.task.pool, {})[offer.task_id] = record.seq
        closed = Offer(offer_id, record.task, offer.worker_id, from_ms(offer.expires_ms))
        self.note(now, OfferEnded(closed, offer.by, outcome), new_event_id())
        return OfferClosedNow(closed, offer.by)

    async def expired_offers(self, now: datetime, limit: int) -> list[str]:
        offers = self.state.offers
        due = sorted((o.expires_ms, i) for i, o in offers.items() if o.expires_ms <= to_ms(now))
        return [offer_id for _, offer_id in due[:limit]]

    async def accept(
        self, offer_id: str, worker_id: str, lease_id: str, region: str, now: datetime
    ) -> Lease:
        s = self.state
        offer = s.offers.get(offer_id)
        if offer is None or offer.worker_id != worker_id:
            raise NotFoundError(f"offer {offer_id} is not outstanding for you")
        if offer.expires_ms <= to_ms(now):
            raise ConflictError(f"offer {offer_id} has expired")
        record = s.tasks[offer.task_id]
        if record.state is not TaskState.OFFERED or record.offer_id != offer_id:
            raise NotFoundError(f"offer {offer_id} is not outstanding for you")
        del s.offers[offer_id]
        s.worker_offer.pop(worker_id, None)
        record.state, record.lease_id, record.offer_id = TaskState.LEASED, lease_id, None
        s.leases[lease_id] = LeaseRecord(
            offer.task_id, worker_id, region, offer_id, to_ms(now), to_ms(now), offer.by
        )
        s.worker_lease[worker_id] = lease_id
        s.active[lease_id] = None
        lease = await self.get_lease(lease_id)
        assert lease is not None
        self.note(now, Assigned(lease, offer.by), new_event_id())
        return lease

    async def lease_of(self, worker_id: str) -> Lease | None:
        lease_id = self.state.worker_lease.get(worker_id)
        if lease_id is None:
            return None
        lease = await self.get_lease(lease_id)
        return lease if lease is not None and lease.active else None

    async def heartbeat(
        self, lease_id: str, worker_id: str, draft: bytes | None, now: datetime
    ) -> Lease:
        record = self.state.leases.get(lease_id)
        if record is None or record.worker_id != worker_id or record.state != "active":
            raise NotFoundError(f"lease {lease_id} is not your active lease")
        record.last_seen_ms = to_ms(now)
        if draft is not None:
            record.draft = draft
        lease = await self.get_lease(lease_id)
        assert lease is not None
        return lease

    async def complete(
        self,
        lease_id: str,
        worker_id: str,
        answer: bytes,
        worked_s: int,
        submission_id: str,
        now: datetime,
    ) -> bool:
        record = self.state.leases.get(lease_id)
        if record is None or record.worker_id != worker_id or record.state == "released":
            raise NotFoundError(f"lease {lease_id} is not yours")
        if record.state != "active":
            return False
        lease = await self.get_lease(lease_id)
        assert lease is not None
        record.state = "submitted"
        self.state.tasks[record.task_id].state = TaskState.SUBMITTED
        self.state.deadlines.pop(record.task_id, None)
        self._end_lease(lease_id, record.worker_id)
        change = Submitted(lease, record.by, submission_id, answer, worked_s)
        self.note(now, change, new_event_id())
        return True

    async def overdue_leases(self, now: datetime, limit: int) -> list[str]:
        due = sorted((ms, i) for i, ms in self.state.grace.items() if ms <= to_ms(now))
        return [lease_id for _, lease_id in due[:limit]]

    async def release(
        self, lease_id: str, reason: str, now: datetime, overdue: bool = False
    ) -> LeaseReleasedNow | None:
        s = self.state
        grace_ends_ms = s.grace.get(lease_id)
        if overdue and (grace_ends_ms is None or grace_ends_ms > to_ms(now)):
            return None
        s.grace.pop(lease_id, None)
        record = s.leases.get(lease_id)
        if record is None or record.state != "active":
            return None
        lease = await self.get_lease(lease_id)
        assert lease is not None
        record.state = "released"
        task = s.tasks[record.task_id]
        assert task.task is not None
        assert task.seq is not None
        task.state = TaskState.QUEUED
        task.lease_id = task.worker_id = None
        s.queues.setdefault(task.task.pool, {})[record.task_id] = task.seq
        self._end_lease(lease_id, record.worker_id)
        # Paid for the time up to the last sign of life (a heartbeat, or the disconnect).
        worked = max((record.last_seen_ms - record.leased_ms) // 1000, 0)
        change = Released(lease, record.by, worked, reason)
        self.note(now, change, new_event_id())
        return LeaseReleasedNow(lease, record.by, worked)

    async def lease_worker(self, lease_id: str) -> str | None:
        record = self.state.leases.get(lease_id)
        return record.worker_id if record is not None else None

    async def get_lease(self, lease_id: str) -> Lease | None:
        record = self.state.leases.get(lease_id)
        if record is None:
            return None
        task = self.state.tasks[record.task_id].task
        if task is None:
            return None
        return Lease(
            lease_id=lease_id,
            task=task,
            worker_id=record.worker_id,
            region=record.region,
            offer_id=record.offer_id,
            leased_at=from_ms(record.leased_ms),
            last_seen=from_ms(record.last_seen_ms),
            draft=record.draft,
            active=record.state == "active",
        )

    async def connect_worker(self, hello: Hello, now: datetime) -> Connection:
        return await self._connections.connect(hello, now)

    async def disconnect_worker(
        self,
        worker_id: str,
        seq: int | None,
        holder: str | None,
        last_seen: datetime | None,
        grace_until: datetime,
        now: datetime,
    ) -> Disconnection:
        return await self._connections.disconnect(
            worker_id, seq, holder, last_seen, grace_until, now
        )

    async def online_workers(self) -> list[OnlineWorker]:
        return self._connections.online()

    async def active_leases(self) -> list[Lease]:
        """Every active lease: for invariant tests."""
        leases = [await self.get_lease(i) for i in self.state.active]
        return [lease for lease in leases if lease is not None and lease.active]

    def outstanding_offers(self) -> list[tuple[str, str, str]]:
        """(offer id, task id, worker id) of every outstanding offer: for invariant tests."""
        return [(i, o.task_id, o.worker_id) for i, o in self.state.offers.items()]

    def _end_lease(self, lease_id: str, worker_id: str) -> None:
        s = self.state
        if s.worker_lease.get(worker_id) == lease_id:
            del s.worker_lease[worker_id]
        s.active.pop(lease_id, None)
        s.grace.pop(lease_id, None)
