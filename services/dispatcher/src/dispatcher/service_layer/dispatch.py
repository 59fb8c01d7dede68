"""Connected workers, the dispatch loop and the timers for offers and leases.

Which worker is offered which task is the policy's decision (the fair scheduler in production,
a pure synchronous core). This module keeps the policy told of every arrival, connection and
outcome, turns its decisions into atomic offers in the task store, and pushes them to workers.
"""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
from dispatcher.domain.model import Offer, Task, submission_id_for
from dispatcher.domain.scheduling.policy import DispatchPolicy, OfferDecision, WorkerProfile
from dispatcher.service_layer.ports import EventPublisher, TaskStore
from dispatcher.service_layer.profiles import task_spec, worker_profile
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
        policy: DispatchPolicy,
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._config = config
        self._new_id = new_id
        self._policy = policy
        self._sessions: dict[str, WorkerSession] = {}
        self._profiles: dict[str, WorkerProfile] = {}
        # Workers the policy may offer to: connected and not holding a lease it never saw.
        self._available: set[str] = set()
        self._wake = asyncio.Event()

    @property
    def connected(self) -> int:
        return len(self._sessions)

    def session(self, worker_id: str) -> WorkerSession | None:
        return self._sessions.get(worker_id)

    def _now_s(self) -> float:
        return self._clock.now().timestamp()

    # -- tasks arriving and leaving -------------------------------------------------------
    async def ingest(self, task: Task) -> None:
        if await self._store.ingest(task):
            self._policy.submit(task_spec(task), self._now_s())
            self._wake.set()

    async def task_cancelled(self, task_id: str, withdrawn: Offer | None) -> None:
        """The platform cancelled a task; its offer, if any, is already gone from the store."""
        now = self._now_s()
        if withdrawn is not None:
            self._policy.expired(withdrawn.worker_id, task_id, now)
            session = self._sessions.get(withdrawn.worker_id)
            if session is not None and session.offer_id == withdrawn.offer_id:
                session.offer_id = None
                session.push(OfferWithdrawnPush(withdrawn.offer_id, "cancelled by the platform"))
        self._policy.cancel(task_id, now)
        self._wake.set()

    # -- connections ----------------------------------------------------------------------
    async def connect(self, hello: Hello) -> WorkerSession:
        """Raises InvalidInputError when the hello's time zone or availability is wrong."""
        profile = worker_profile(hello, self._clock.now())
        previous = self._sessions.get(hello.worker_id)
        if previous is not None:
            previous.push(Closed("connected again from elsewhere"))
            await self._withdraw_offer(previous, "connected again from elsewhere")
            previous.open = False
        session = WorkerSession(hello)
        self._sessions[hello.worker_id] = session
        self._profiles[hello.worker_id] = profile
        lease = await self._store.lease_of(hello.worker_id)
        if lease is not None:
            await self._store.end_grace(lease.lease_id)
            session.lease_id = lease.lease_id
        session.push(Welcome(hello.worker_id, lease))
        if lease is not None:
            session.push(LeasePush(lease, self._config.heartbeat_interval_s))
        else:
            self._make_available(hello.worker_id, refresh=True)
        await self._events.publish(
            WorkerPresenceChanged(hello.worker_id, hello.region, True, self._clock.now())
        )
        return session

    async def disconnect(self, session: WorkerSession) -> None:
        session.open = False
        if self._sessions.get(session.worker_id) is not session:
            return  # replaced by a newer connection, which now owns the offer and lease
        del self._sessions[session.worker_id]
        await self._withdraw_offer(session, "disconnected")
        self._available.discard(session.worker_id)
        self._policy.worker_offline(session.worker_id, self._now_s())
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
        self._policy.accepted(session.worker_id, lease.task.task_id, self._now_s())
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
            self._policy.declined(session.worker_id, offer.task.task_id, self._now_s())
            metrics.OFFER_OUTCOMES.labels(session.hello.region, "declined").inc()
            await self._events.publish(
                OfferClosed(offer_id, offer.task.task_id, session.worker_id, OfferOutcome.DECLINED)
            )
        self._wake.set()

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
        self._policy.completed(
            session.worker_id, lease.task.task_id, float(worked), now.timestamp()
        )
        metrics.SUBMISSIONS.inc()
        session.push(SubmitAcceptedPush(lease_id, submission_id))
        self._make_available(session.worker_id)

    # -- loops ----------------------------------------------------------------------------
    async def run_dispatch(self) -> None:
        while True:
            wakeup = self._policy.next_wakeup(self._now_s())
            timeout = None if wakeup is None else max(wakeup - self._now_s(), 0.0)
            # A timeout means a window opened or held work is due: the policy has something new.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
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
        while True:
            await asyncio.sleep(self._config.timer_interval_s)
            try:
                await self._expire_offers()
                await self._release_overdue_leases()
            except Exception:
                log.exception("timer round failed; retrying")

    async def _dispatch_round(self) -> None:
        with metrics.OFFER_DECISION_SECONDS.time():
            decisions = self._policy.decide(self._now_s())
        for decision in decisions:
            await self._make_offer(decision)

    async def _make_offer(self, decision: OfferDecision) -> None:
        worker_id, task_id = decision.worker_id, decision.task_id
        session = self._sessions.get(worker_id)
        if session is None or not session.idle:
            self._policy.expired(worker_id, task_id, self._now_s())
            return
        expires_at = datetime.fromtimestamp(decision.expires_at, UTC)
        offer = await self._store.offer_task(task_id, worker_id, self._new_id(), expires_at)
        if offer is None:  # cancelled meanwhile, or offered by another replica
            now = self._now_s()
            self._policy.expired(worker_id, task_id, now)
            self._policy.cancel(task_id, now)
            return
        if not session.open:  # the worker left while we were choosing
            await self._store.close_offer(offer.offer_id, None, OfferOutcome.WITHDRAWN)
            self._policy.expired(worker_id, task_id, self._now_s())
            self._wake.set()
            return
        session.offer_id = offer.offer_id
        session.push(OfferPush(offer))
        metrics.OFFERS.labels(session.hello.region).inc()
        await self._events.publish(TaskOffered(offer, session.hello.region))

    async def _expire_offers(self) -> None:
        for offer_id in await self._store.expired_offers(self._clock.now(), 200):
            offer = await self._store.close_offer(offer_id, None, OfferOutcome.EXPIRED)
            if offer is None:
                continue
            self._policy.expired(offer.worker_id, offer.task.task_id, self._now_s())
            # Known to the store but not to the policy (e.g. offered before a restart).
            self._policy.submit(task_spec(offer.task), self._now_s())
            session = self._sessions.get(offer.worker_id)
            region = session.hello.region if session is not None else "disconnected"
            metrics.OFFER_OUTCOMES.labels(region, "expired").inc()
            await self._events.publish(
                OfferClosed(offer_id, offer.task.task_id, offer.worker_id, OfferOutcome.EXPIRED)
            )
            if session is not None and session.offer_id == offer_id:
                session.offer_id = None
                session.push(OfferWithdrawnPush(offer_id, "expired"))
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
                now = self._now_s()
                self._policy.lease_lost(lease.worker_id, lease.task.task_id, now)
                self._policy.submit(task_spec(lease.task), now)
                metrics.LEASES_RELEASED.inc()
                log.info("lease released after grace", lease_id=lease_id, worker=lease.worker_id)
                self._wake.set()

    async def _recover(self) -> None:
        """After a restart: queued tasks go back to the policy, and leases of workers who are
        not connected start their grace period."""
        now = self._now_s()
        for task in await self._store.queued_tasks():
            self._policy.submit(task_spec(task), now)
        until = self._clock.now() + timedelta(seconds=self._config.grace_s)
        for lease in await self._store.active_leases():
            if lease.worker_id not in self._sessions:
                await self._store.start_grace(lease.lease_id, until)
        self._wake.set()

    async def _withdraw_offer(self, session: WorkerSession, reason: str) -> None:
        if session.offer_id is None:
            return
        offer_id, session.offer_id = session.offer_id, None
        offer = await self._store.close_offer(offer_id, None, OfferOutcome.WITHDRAWN)
        if offer is not None:
            self._policy.expired(offer.worker_id, offer.task.task_id, self._now_s())
            await self._events.publish(
                OfferClosed(offer_id, offer.task.task_id, offer.worker_id, OfferOutcome.WITHDRAWN)
            )
            session.push(OfferWithdrawnPush(offer_id, reason))
            self._wake.set()

    def _make_available(self, worker_id: str, refresh: bool = False) -> None:
        """Tells the policy a worker is free: new, reconnected (its profile may have changed),
        or done with a lease resumed from an earlier connection, which the policy never saw."""
        if refresh or worker_id not in self._available:
            self._available.add(worker_id)
            self._policy.worker_online(self._profiles[worker_id], self._now_s())
        self._wake.set()


def _too_large(field: str, limit: int) -> InvalidInputError:
    return InvalidInputError([Violation(field, f"larger than {limit} bytes")])
