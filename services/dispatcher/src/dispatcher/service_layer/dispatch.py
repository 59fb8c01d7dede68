"""Connected workers, the dispatch loop and the timers for offers and leases.

Skeleton policy: idle workers are served round robin, each from the oldest task of the pools
their skills fit. The fair scheduler replaces `_next_offer` without touching the rest.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from dispatcher import metrics
from dispatcher.domain.errors import AlreadyDoneError, InvalidInputError, NotFoundError, Violation
from dispatcher.domain.events import (
    LeaseReleased,
    OfferClosed,
    OfferOutcome,
    SubmissionReceived,
    TaskAssigned,
    TaskOffered,
    WorkerPresenceChanged,
)
from dispatcher.domain.model import Task, fits, submission_id_for
from dispatcher.service_layer.ports import EventPublisher, TaskStore
from dispatcher.service_layer.sessions import (
    Closed,
    Hello,
    LeasePush,
    OfferPush,
    OfferWithdrawnPush,
    SubmitAcceptedPush,
    Welcome,
    WorkerSession,
)
from fairtask_runtime.clock import Clock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DispatchConfig:
    offer_ttl_s: float = 120.0
    grace_s: float = 900.0
    heartbeat_interval_s: int = 10
    timer_interval_s: float = 0.25
    pool_refresh_ticks: int = 8
    retry_backoff_s: float = 0.5
    max_answer_bytes: int = 256 * 1024


class Dispatch:
    def __init__(
        self,
        store: TaskStore,
        events: EventPublisher,
        clock: Clock,
        config: DispatchConfig,
        new_id: Callable[[], str],
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._config = config
        self._new_id = new_id
        self._sessions: dict[str, WorkerSession] = {}
        self._idle: deque[str] = deque()
        self._pools: dict[str, tuple[str, ...]] = {}
        self._wake = asyncio.Event()

    @property
    def connected(self) -> int:
        return len(self._sessions)

    def session(self, worker_id: str) -> WorkerSession | None:
        return self._sessions.get(worker_id)

    # -- tasks arriving -------------------------------------------------------------------
    async def ingest(self, task: Task) -> None:
        if await self._store.ingest(task):
            self._pools.setdefault(task.pool, task.task_type.skills)
            self._wake.set()

    # -- connections ----------------------------------------------------------------------
    async def connect(self, hello: Hello) -> WorkerSession:
        previous = self._sessions.get(hello.worker_id)
        if previous is not None:
            previous.push(Closed("connected again from elsewhere"))
            await self._withdraw_offer(previous, "connected again from elsewhere")
            previous.open = False
        session = WorkerSession(hello)
        self._sessions[hello.worker_id] = session
        lease = await self._store.lease_of(hello.worker_id)
        if lease is not None:
            await self._store.end_grace(lease.lease_id)
            session.lease_id = lease.lease_id
        session.push(Welcome(hello.worker_id, lease))
        if lease is not None:
            session.push(LeasePush(lease, self._config.heartbeat_interval_s))
        await self._events.publish(
            WorkerPresenceChanged(hello.worker_id, hello.region, True, self._clock.now())
        )
        self._make_idle(session)
        return session

    async def disconnect(self, session: WorkerSession) -> None:
        session.open = False
        if self._sessions.get(session.worker_id) is not session:
            return  # replaced by a newer connection, which now owns the offer and lease
        del self._sessions[session.worker_id]
        await self._withdraw_offer(session, "disconnected")
        if session.lease_id is not None:
            await self._store.heartbeat(
                session.lease_id, session.worker_id, None, self._clock.now()
            )
            # The task stays reserved and the draft kept until the grace period runs out.
            until = self._clock.now() + timedelta(seconds=self._config.grace_s)
            await self._store.start_grace(session.lease_id, until)
        await self._events.publish(
            WorkerPresenceChanged(session.worker_id, session.hello.region, False, self._clock.now())
        )

    # -- what a worker sends --------------------------------------------------------------
    async def accept(self, session: WorkerSession, offer_id: str) -> None:
        if session.offer_id != offer_id:
            raise NotFoundError(f"offer {offer_id} is not outstanding for you")
        lease_id = self._new_id()
        # Cleared only once the lease exists: a refused accept (expired offer) leaves the offer
        # outstanding, and the expiry timer must still find it here to make the worker idle.
        lease = await self._store.accept(
            offer_id, session.worker_id, lease_id, session.hello.region, self._clock.now()
        )
        session.offer_id = None
        metrics.OFFER_OUTCOMES.labels(session.hello.region, "accepted").inc()
        session.lease_id = lease.lease_id
        session.push(LeasePush(lease, self._config.heartbeat_interval_s))
        await self._events.publish(TaskAssigned(lease))

    async def decline(self, session: WorkerSession, offer_id: str) -> None:
        if session.offer_id != offer_id:
            raise NotFoundError(f"offer {offer_id} is not outstanding for you")
        session.offer_id = None
        offer = await self._store.close_offer(offer_id, session.worker_id, OfferOutcome.DECLINED)
        if offer is not None:
            metrics.OFFER_OUTCOMES.labels(session.hello.region, "declined").inc()
            await self._events.publish(
                OfferClosed(offer_id, offer.task.task_id, session.worker_id, OfferOutcome.DECLINED)
            )
        self._make_idle(session)

    async def heartbeat(self, session: WorkerSession, lease_id: str, draft: bytes | None) -> None:
        if len(draft or b"") > self._config.max_answer_bytes:
            raise _too_large("heartbeat.draft", self._config.max_answer_bytes)
        await self._store.heartbeat(lease_id, session.worker_id, draft, self._clock.now())

    async def submit(self, session: WorkerSession, lease_id: str, answer: bytes) -> None:
        if len(answer) > self._config.max_answer_bytes:
            raise _too_large("submit.answer", self._config.max_answer_bytes)
        lease = await self._store.get_lease(lease_id)
        if lease is None or lease.worker_id != session.worker_id:
            raise NotFoundError(f"lease {lease_id} is not yours")
        if not lease.active:
            raise AlreadyDoneError(f"lease {lease_id} was already submitted or released")
        now = self._clock.now()
        submission_id = submission_id_for(lease_id)
        worked = max(int((now - lease.leased_at).total_seconds()), 0)
        # Durable first, so the worker is paid even if we crash before recording completion;
        # the deterministic submission id makes a repeat harmless downstream.
        await self._events.publish(SubmissionReceived(submission_id, lease, answer, worked, now))
        if not await self._store.complete(lease_id, session.worker_id):
            raise AlreadyDoneError(f"lease {lease_id} was already submitted")
        session.lease_id = None
        metrics.SUBMISSIONS.inc()
        session.push(SubmitAcceptedPush(lease_id, submission_id))
        self._make_idle(session)

    # -- loops ----------------------------------------------------------------------------
    async def run_dispatch(self) -> None:
        await self._refresh_pools()
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._dispatch_round()
            except Exception:
                # Redis or Kafka hiccup: nothing is lost (state changes are atomic and offers
                # expire), so log, back off and try again rather than stopping the service.
                log.exception("dispatch round failed; retrying")
                await asyncio.sleep(self._config.retry_backoff_s)
                self._wake.set()

    async def run_timers(self) -> None:
        await self._recover()
        ticks = 0
        while True:
            await asyncio.sleep(self._config.timer_interval_s)
            ticks += 1
            try:
                await self._expire_offers()
                await self._release_overdue_leases()
                if ticks % self._config.pool_refresh_ticks == 0:
                    await self._refresh_pools()
            except Exception:
                log.exception("timer round failed; retrying")

    async def _refresh_pools(self) -> None:
        """Learns pools ingested by other replicas (tasks.submitted is partitioned by pool)."""
        for pool, skills in (await self._store.known_pools()).items():
            if pool not in self._pools:
                self._pools[pool] = skills
                self._wake.set()

    async def _dispatch_round(self) -> None:
        for _ in range(len(self._idle)):
            worker_id = self._idle.popleft()
            session = self._sessions.get(worker_id)
            if session is None or not session.idle:
                continue
            with metrics.OFFER_DECISION_SECONDS.time():
                offered = await self._next_offer(session)
            if not offered:
                self._idle.append(worker_id)

    async def _next_offer(self, session: WorkerSession) -> bool:
        pools = [p for p, skills in self._pools.items() if fits(session.hello.skills, skills)]
        if not pools:
            return False
        expires_at = self._clock.now() + timedelta(seconds=self._config.offer_ttl_s)
        offer = await self._store.take_for_offer(
            pools, session.worker_id, self._new_id(), expires_at
        )
        if offer is None:
            return False
        if not session.open:  # the worker left while we were choosing
            await self._store.close_offer(offer.offer_id, None, OfferOutcome.WITHDRAWN)
            self._wake.set()
            return True
        session.offer_id = offer.offer_id
        session.push(OfferPush(offer))
        metrics.OFFERS.labels(session.hello.region).inc()
        await self._events.publish(TaskOffered(offer, session.hello.region))
        return True

    async def _expire_offers(self) -> None:
        for offer_id in await self._store.expired_offers(self._clock.now(), 200):
            offer = await self._store.close_offer(offer_id, None, OfferOutcome.EXPIRED)
            if offer is None:
                continue
            session = self._sessions.get(offer.worker_id)
            region = session.hello.region if session is not None else "disconnected"
            metrics.OFFER_OUTCOMES.labels(region, "expired").inc()
            await self._events.publish(
                OfferClosed(offer_id, offer.task.task_id, offer.worker_id, OfferOutcome.EXPIRED)
            )
            if session is not None and session.offer_id == offer_id:
                session.offer_id = None
                session.push(OfferWithdrawnPush(offer_id, "expired"))
                self._make_idle(session)
            self._wake.set()

    async def _release_overdue_leases(self) -> None:
        for lease_id in await self._store.overdue_leases(self._clock.now(), 200):
            lease = await self._store.get_lease(lease_id)
            if lease is None or not lease.active:
                await self._store.end_grace(lease_id)
                continue
            # Durable first: the time worked is paid even if we crash before requeueing.
            await self._events.publish(
                LeaseReleased(lease, lease.worked_seconds(), "grace period ended")
            )
            if await self._store.release(lease_id) is not None:
                metrics.LEASES_RELEASED.inc()
                log.info("lease released after grace", lease_id=lease_id, worker=lease.worker_id)
                self._wake.set()

    async def _recover(self) -> None:
        """After a restart, leases of workers who are not connected start their grace."""
        until = self._clock.now() + timedelta(seconds=self._config.grace_s)
        for lease in await self._store.active_leases():
            if lease.worker_id not in self._sessions:
                await self._store.start_grace(lease.lease_id, until)

    async def _withdraw_offer(self, session: WorkerSession, reason: str) -> None:
        if session.offer_id is None:
            return
        offer_id, session.offer_id = session.offer_id, None
        offer = await self._store.close_offer(offer_id, None, OfferOutcome.WITHDRAWN)
        if offer is not None:
            await self._events.publish(
                OfferClosed(offer_id, offer.task.task_id, offer.worker_id, OfferOutcome.WITHDRAWN)
            )
            session.push(OfferWithdrawnPush(offer_id, reason))
            self._wake.set()

    async def offer_withdrawn(self, worker_id: str, offer_id: str, reason: str) -> None:
        session = self._sessions.get(worker_id)
        if session is not None and session.offer_id == offer_id:
            session.offer_id = None
            session.push(OfferWithdrawnPush(offer_id, reason))
            self._make_idle(session)

    def _make_idle(self, session: WorkerSession) -> None:
        # Once per worker: a reconnect may find the worker still queued from its last session.
        if session.idle and session.worker_id not in self._idle:
            self._idle.append(session.worker_id)
            self._wake.set()


def _too_large(field: str, limit: int) -> InvalidInputError:
    return InvalidInputError([Violation(field, f"larger than {limit} bytes")])
