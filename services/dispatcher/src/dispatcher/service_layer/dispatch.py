"""Connected workers, the dispatch loop and the timers for offers and leases.

Which worker is offered which task is the policy's decision (the fair scheduler in production,
a pure synchronous core). This module keeps the policy told of every arrival, connection and
outcome, turns its decisions into atomic offers in the task store, and pushes them to workers.

With several replicas, this one's policy holds the pools it owns (`ownership.py`), knows every
connected worker (`roster.py`), and learns what the other replicas did from the transition log
(`replication.py`); the store refuses any offer that would give a task, or a worker, two at
once.
"""

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

from dispatcher import metrics
from dispatcher.domain.errors import AlreadyDoneError, InvalidInputError, NotFoundError, Violation
from dispatcher.domain.events import OfferOutcome
from dispatcher.domain.model import Lease, Offer, Task, submission_id_for
from dispatcher.domain.scheduling.local_time import window_state
from dispatcher.domain.scheduling.policy import DispatchPolicy, OfferDecision
from dispatcher.service_layer.ownership import Ownership
from dispatcher.service_layer.ports import (
    LocalExclusions,
    OfferClosedNow,
    OfferWanted,
    PoolExclusions,
    TaskStore,
)
from dispatcher.service_layer.profiles import task_spec, worker_profile
from dispatcher.service_layer.roster import Engagement
from dispatcher.service_layer.sessions import (
    SUPERSEDED,
    Closed,
    ErrorPush,
    Hello,
    LeasePush,
    OfferPush,
    OfferWithdrawnPush,
    SubmitAcceptedPush,
    Turns,
    Welcome,
    WorkerSession,
)
from fairtask_runtime.answers import answer_task_ids
from fairtask_runtime.clock import Clock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DispatchConfig:
    offer_ttl_s: float = 120.0
    grace_s: float = 900.0
    heartbeat_interval_s: int = 10
    timer_interval_s: float = 0.25
    # A task leased when its deadline passed is looked at again this often: grace running out
    # may put it back in the queue, where it then expires.
    overdue_recheck_s: float = 60.0
    retry_backoff_s: float = 0.5
    max_answer_bytes: int = 256 * 1024
    # A worker the store found busy elsewhere is left out of this replica's choices this long,
    # unless the transition log says sooner that they are free.
    refused_cooldown_s: float = 1.0
    offers_in_flight: int = 256
    eligibility_sample_s: float = 5.0
    # Exclusions are reloaded this many workers per Redis call: one call for 10,000 workers
    # held the loop for 40-50 ms, every offer waiting behind it.
    exclusions_per_read: int = 500


class Dispatch:
    def __init__(
        self,
        store: TaskStore,
        clock: Clock,
        config: DispatchConfig,
        new_id: Callable[[], str],
        new_policy: Callable[[], DispatchPolicy],
        replica_id: str = "replica",
        owns_every_pool: bool = True,
        exclusions: PoolExclusions | None = None,
    ) -> None:
        self._store = store
        self.exclusions: PoolExclusions = exclusions or LocalExclusions()
        self._clock = clock
        self._config = config
        self._new_id = new_id
        self.replica_id = replica_id
        self._sessions: dict[str, WorkerSession] = {}
        self._turns = Turns()
        self._eligible_counted_at = clock.now().timestamp()
        self._wake = asyncio.Event()
        self.ownership = Ownership(
            store, clock, new_policy, replica_id, owns_every_pool, self._wake.set
        )
        self.roster = self.ownership.roster

    @property
    def connected(self) -> int:
        return len(self._sessions)

    @property
    def policy(self) -> DispatchPolicy:
        return self.roster.policy

    def wake(self) -> None:
        """Something may be decidable now: run a dispatch round soon."""
        self._wake.set()

    def session(self, worker_id: str) -> WorkerSession | None:
        return self._sessions.get(worker_id)

    def _now_s(self) -> float:
        return self._clock.now().timestamp()

    # -- tasks arriving and leaving -------------------------------------------------------
    async def ingest(self, task: Task) -> None:
        try:
            fresh = await self._store.ingest(task, self._clock.now())
        except Exception:
            self.ownership.diverged()  # queued, perhaps: a redelivery would find it known
            raise
        if fresh and self.ownership.owns(task.pool):
            self.policy.submit(task_spec(task), self._now_s())
            self._wake.set()

    async def ingest_many(self, tasks: Sequence[Task]) -> None:
        """As `ingest` for each task, in order, with one round trip to the store."""
        try:
            queued = await self._store.ingest_many(tasks, self._clock.now())
        except Exception:
            self.ownership.diverged()
            raise
        now = self._now_s()
        for task, fresh in zip(tasks, queued, strict=True):
            if fresh and self.ownership.owns(task.pool):
                self.policy.submit(task_spec(task), now)
        self._wake.set()

    async def task_cancelled(self, task_id: str, withdrawn: Offer | None) -> None:
        """The platform cancelled a task; its offer, if any, is already gone from the store."""
        now = self._now_s()
        if withdrawn is not None:
            self.policy.expired(withdrawn.worker_id, task_id, now)
            self.roster.disengage(withdrawn.worker_id, now, offer_id=withdrawn.offer_id)
            self.withdraw_push(withdrawn.worker_id, withdrawn.offer_id, "cancelled by the platform")
        self.policy.cancel(task_id, now)
        self._wake.set()

    # -- quality ---------------------------------------------------------------------------
    async def requalify(self, worker_id: str, pool: str, eligible: bool, version: int) -> None:
        """Scoring's quality estimate let the worker into a pool, or kept them out of it:
        remembered for their next connections, and applied now if this replica knows them.
        An offer already made stays; only new ones follow. An estimate older than one
        applied already (`version`) changes nothing."""
        if not await self.exclusions.set(worker_id, pool, not eligible, version):
            return
        excluded = await self.exclusions.of(worker_id)
        session = self._sessions.get(worker_id)
        if session is not None:
            session.hello = replace(session.hello, excluded_pools=excluded)
        self.roster.requalify(worker_id, excluded, self._now_s())

    async def reload_exclusions(self) -> int:
        """Applies exclusions another replica recorded for the workers this one knows (the
        quality events are consumed by one replica). Returns how many workers changed."""
        known, step, changed = list(self.roster.profiles), self._config.exclusions_per_read, 0
        for start in range(0, len(known), step):
            found = await self.exclusions.of_many(known[start : start + step])
            now = self._now_s()
            for worker_id, excluded in found.items():
                profile = self.roster.profiles.get(worker_id)
                if profile is not None and profile.excluded_pools != excluded:
                    self.roster.requalify(worker_id, excluded, now)
                    changed += 1
        return changed

    # -- connections ----------------------------------------------------------------------
    async def connect(self, hello: Hello) -> WorkerSession:
        """Raises InvalidInputError when the hello's time zone or availability is wrong. A caller
        cancelled meanwhile (its client hung up) leaves no connection behind."""
        connecting = asyncio.ensure_future(self._connect(hello))
        try:
            return await asyncio.shield(connecting)
        except asyncio.CancelledError:
            # The store may have recorded the connection (and ended its lease's grace) with
            # the reply still on its way: once made, it is ended as a hang-up ends one.
            # Shielded, as disconnects are, so the grace period starts again.
            await asyncio.shield(self._end_abandoned(connecting))
            raise

    async def _end_abandoned(self, connecting: asyncio.Future[WorkerSession]) -> None:
        try:
            session = await connecting
        except Exception:
            return  # refused, or the store failed: no session was made
        try:
            await self.disconnect(session)
        except Exception:
            log.warning("ending an abandoned connection failed", exc_info=True)

    async def _connect(self, hello: Hello) -> WorkerSession:
        # One connect or disconnect at a time per worker: each reads the current session, waits
        # on the store, then replaces it; interleaved, two would each take the other for stale.
        async with self._turns.of(hello.worker_id):
            return await self._connect_in_turn(hello)

    async def _connect_in_turn(self, hello: Hello) -> WorkerSession:
        now = self._clock.now()
        # In the hello, so every replica that learns of this connection keeps them out too.
        hello = replace(hello, excluded_pools=await self.exclusions.of(hello.worker_id))
        profile = worker_profile(hello, now)
        previous = self._sessions.get(hello.worker_id)
        if previous is not None:
            previous.push(Closed(SUPERSEDED))
            previous.open = False
        connection = await self._store.connect_worker(hello, now)
        session = WorkerSession(hello, seq=connection.seq)
        self._sessions[hello.worker_id] = session
        if connection.withdrawn is not None:  # the earlier connection's, here or elsewhere
            self.offer_closed(connection.withdrawn, OfferOutcome.WITHDRAWN)
            if previous is not None and previous.offer_id == connection.withdrawn.offer.offer_id:
                previous.push(OfferWithdrawnPush(previous.offer_id, SUPERSEDED))
        if previous is not None:
            previous.offer_id = None
        lease = connection.lease
        if lease is not None:
            session.lease = lease
            engagement = Engagement(
                lease.task.task_id, lease.offer_id, lease.lease_id, connection.by
            )
            self.roster.engage(hello.worker_id, engagement, now.timestamp())
        session.push(Welcome(hello.worker_id, lease))
        if lease is not None:
            session.push(LeasePush(lease, self._config.heartbeat_interval_s))
        self.roster.connected(profile, connection.seq, now.timestamp())
        return session

    async def disconnect(self, session: WorkerSession) -> None:
        session.open = False
        async with self._turns.of(session.worker_id):
            await self._disconnect_in_turn(session)

    async def _disconnect_in_turn(self, session: WorkerSession) -> None:
        if self._sessions.get(session.worker_id) is not session:
            return  # replaced by a newer connection, which now owns the offer and lease
        del self._sessions[session.worker_id]
        now = self._clock.now()
        # The store withdraws the offer and starts the lease's grace period, unless the worker
        # has connected again meanwhile (on another replica).
        until = now + timedelta(seconds=self._config.grace_s)
        gone = await self._store.disconnect_worker(
            session.worker_id, session.seq, None, now, until, now
        )
        if not gone.ended:
            return
        if gone.withdrawn is not None:
            self.offer_closed(gone.withdrawn, OfferOutcome.WITHDRAWN)
            if session.offer_id == gone.withdrawn.offer.offer_id:
                session.push(OfferWithdrawnPush(session.offer_id, "disconnected"))
        session.offer_id = None
        self.roster.gone(session.worker_id, now.timestamp())

    async def bury(self, worker_id: str, replica: str) -> None:
        """Ends a connection the dead `replica` held, as if the worker had dropped off then:
        the time they are paid for stops at their last heartbeat."""
        now = self._clock.now()
        until = now + timedelta(seconds=self._config.grace_s)
        gone = await self._store.disconnect_worker(worker_id, None, replica, None, until, now)
        if not gone.ended:
            return
        if gone.withdrawn is not None:
            self.offer_closed(gone.withdrawn, OfferOutcome.WITHDRAWN)
        if worker_id not in self._sessions:
            self.roster.gone(worker_id, now.timestamp())

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
        now = self._now_s()
        self.policy.accepted(session.worker_id, lease.task.task_id, now)
        self.roster.engage(session.worker_id, self._leased(lease), now)
        metrics.OFFER_OUTCOMES.labels(session.hello.region, "accepted").inc()
        metrics.WORK_SECONDS.labels(session.hello.region).inc(lease.task.task_type.effort_seconds)
        session.lease = lease
        session.push(LeasePush(lease, self._config.heartbeat_interval_s))

    def _leased(self, lease: Lease) -> Engagement:
        """The worker's engagement now that their offer became a lease: the same policy's."""
        offered = self.roster.engagement(lease.worker_id)
        by = offered.by if offered is not None and offered.offer_id == lease.offer_id else ""
        return Engagement(lease.task.task_id, lease.offer_id, lease.lease_id, by)

    async def decline(self, session: WorkerSession, offer_id: str) -> None:
        if session.offer_id != offer_id:
            raise NotFoundError(f"offer {offer_id} is not outstanding for you")
        session.offer_id = None
        closed = await self._store.close_offer(
            offer_id, session.worker_id, OfferOutcome.DECLINED, self._clock.now()
        )
        if closed is not None:
            self.offer_closed(closed, OfferOutcome.DECLINED)
        self._wake.set()

    async def heartbeat(self, session: WorkerSession, lease_id: str, draft: bytes | None) -> None:
        if len(draft or b"") > self._config.max_answer_bytes:
            raise _too_large("heartbeat.draft", self._config.max_answer_bytes)
        await self._store.heartbeat(lease_id, session.worker_id, draft, self._clock.now())

    async def submit(self, session: WorkerSession, lease_id: str, answer: bytes) -> None:
        if len(answer) > self._config.max_answer_bytes:
            raise _too_large("submit.answer", self._config.max_answer_bytes)
        # The connection's own lease saves a round trip; any other is read from the store.
        held = session.lease if session.lease_id == lease_id else None
        lease = _submittable(held or await self._lease(lease_id, session), lease_id, session)
        now = self._clock.now()
        submission_id = submission_id_for(lease_id)
        worked = max(int((now - lease.leased_at).total_seconds()), 0)
        # The submission is recorded with the completion, in one step: the worker is paid even
        # if we crash right after, and a repeat of the submit is refused.
        try:
            completed = await self._store.complete(
                lease_id, session.worker_id, answer, worked, submission_id, now
            )
        except NotFoundError:
            if held is None:
                raise
            completed = False
        if not completed:
            if held is not None:
                # Released or submitted elsewhere since it was accepted here (the store changed
                # nothing): refused as it would have been had it been read first.
                _submittable(await self._lease(lease_id, session), lease_id, session)
            raise AlreadyDoneError(f"lease {lease_id} was already submitted")
        session.lease = None
        _count_deadline_miss(lease.task, now)
        self.policy.completed(session.worker_id, lease.task.task_id, float(worked), now.timestamp())
        self.roster.disengage(session.worker_id, now.timestamp(), lease_id=lease_id)
        metrics.SUBMISSIONS.inc()
        session.push(SubmitAcceptedPush(lease_id, submission_id))
        self._wake.set()

    async def _lease(self, lease_id: str, session: WorkerSession) -> Lease | None:
        """The lease; a repeat of its submit after its task's content was let go is still
        told apart from a stranger's lease."""
        lease = await self._store.get_lease(lease_id)
        if lease is None and await self._store.lease_worker(lease_id) == session.worker_id:
            raise AlreadyDoneError(f"lease {lease_id} was already submitted or released")
        return lease

    # -- loops ----------------------------------------------------------------------------
    async def run_dispatch(self) -> None:
        while True:
            wakeup = self.policy.next_wakeup(self._now_s())
            timeout = None if wakeup is None else max(wakeup - self._now_s(), 0.0)
            # A timeout means a window opened or held work is due: the policy has something new.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            try:
                await self._dispatch_round()
            except Exception:
                # Redis or Kafka hiccup: nothing is lost (state changes are atomic, offers
                # expire, and the policy is rebuilt from the store), so log, back off and try
                # again rather than stopping the service.
                log.exception("dispatch round failed; retrying")
                await asyncio.sleep(self._config.retry_backoff_s)
                self._wake.set()

    async def run_timers(self) -> None:
        while True:
            await asyncio.sleep(self._config.timer_interval_s)
            try:
                await self._sample_gauges()
                await self._expire_offers()
                await self._release_overdue_leases()
                await self._expire_overdue_tasks()
                self.roster.warm_up(self._now_s())
                await self.ownership.rebuild_if_wanted()
            except Exception:
                log.exception("timer round failed; retrying")
                self.ownership.diverged()

    def _inside_window(self, worker_id: str, now: float) -> bool:
        profile = self.roster.profiles.get(worker_id)
        return profile is not None and window_state(profile, now)[0]

    async def _sample_gauges(self) -> None:
        """At most every `eligibility_sample_s` (it visits every connection): adds the time
        since the last sample for each worker connected here and inside their window (with the
        work each region gets, the fairness series come out of recording rules), and reads
        the depth of the queues this replica schedules."""
        now = self._now_s()
        elapsed = now - self._eligible_counted_at
        if elapsed < self._config.eligibility_sample_s:
            return
        self._eligible_counted_at = now
        for worker_id in self._sessions:
            if self._inside_window(worker_id, now):
                region = self.roster.profiles[worker_id].region
                metrics.ELIGIBLE_WORKER_SECONDS.labels(region).inc(elapsed)
        pools = [pool for pool in await self._store.known_pools() if self.ownership.owns(pool)]
        metrics.QUEUED_TASKS.set(await self._store.queue_depth(pools))

    async def _dispatch_round(self) -> None:
        async with self.ownership.round:
            if self.ownership.paused:
                return
            decided_at = self._clock.now()
            with metrics.OFFER_DECISION_SECONDS.time():
                decisions = self.policy.decide(decided_at.timestamp())
            # Each offer waits on Redis; made one after another, those waits alone would cap a
            # process at a few hundred offers a second. Every decision of a round is for a
            # different worker and task, so they go to the store together, each its own atomic
            # step, in one round trip per `offers_in_flight` (a busy round has dozens).
            step = self._config.offers_in_flight
            try:
                for first in range(0, len(decisions), step):
                    await self._make_offers(decisions[first : first + step], decided_at)
            except Exception:
                self.ownership.diverged()  # decisions the store may or may not have taken
                raise

    async def _make_offers(self, decisions: Sequence[OfferDecision], decided_at: datetime) -> None:
        now = self._clock.now()
        now_s = now.timestamp()
        wanted: list[OfferWanted] = []
        for decision in decisions:
            worker_id, task_id = decision.worker_id, decision.task_id
            session = self._sessions.get(worker_id)
            stale = not self.roster.offerable(worker_id, now_s)
            if stale or (session is not None and not session.idle):
                self.policy.expired(worker_id, task_id, now_s)
                continue
            region = self.roster.profiles[worker_id].region
            expires_at = datetime.fromtimestamp(decision.expires_at, UTC)
            offer_id = self._new_id()
            wanted.append(
                OfferWanted(task_id, worker_id, offer_id, expires_at, region, self.roster.by)
            )
        if not wanted:
            return
        for one, made in zip(wanted, await self._store.offer_tasks(wanted, now), strict=True):
            offer = made.offer
            if offer is None:
                await self._refused(one.worker_id, one.task_id, made.refused)
                continue
            engagement = Engagement(one.task_id, offer.offer_id, "", self.roster.by)
            self.roster.engage(one.worker_id, engagement, now_s)
            metrics.OFFERS.labels(one.region).inc()
            if made.holder == self.replica_id:
                await self.push_offer(offer, made.seq, decided_at)
            # Otherwise the replica holding the worker's connection pushes it (it follows the
            # log).

    async def _refused(self, worker_id: str, task_id: str, reason: str) -> None:
        now = self._now_s()
        self.policy.expired(worker_id, task_id, now)
        if reason == "task":  # cancelled meanwhile, or offered by another replica's policy
            self.policy.cancel(task_id, now)
            self.ownership.dropped(task_id)
        else:  # busy with another replica's offer, or gone: the log will say which
            self.roster.cool(worker_id, now + self._config.refused_cooldown_s, now)

    async def push_offer(self, offer: Offer, seq: int, offered_at: datetime) -> None:
        """Pushes an offer to the connection it was made for, held here; withdraws it when that
        connection has gone (or is no longer idle) since. `offered_at`: when it was decided."""
        session = self._sessions.get(offer.worker_id)
        if session is not None and session.seq == seq and session.idle:
            # At the moment it was decided: a window closing in the milliseconds since is fine.
            if self._inside_window(offer.worker_id, offered_at.timestamp()):
                session.offer_id = offer.offer_id
                session.push(OfferPush(offer, offered_at))
                return
            # The policy never offers outside a window; checked again here, independently,
            # because waking someone at 3 a.m. is the one thing fairtask promises not to do.
            metrics.PUSHES_OUTSIDE_WINDOW.inc()
            log.error("offer held back: outside the worker's window", worker=offer.worker_id)
        closed = await self._store.close_offer(
            offer.offer_id, offer.worker_id, OfferOutcome.WITHDRAWN, self._clock.now()
        )
        if closed is not None:
            self.offer_closed(closed, OfferOutcome.WITHDRAWN)

    def offer_closed(self, closed: OfferClosedNow, outcome: OfferOutcome) -> None:
        """This replica ended an offer (or saw it ended): the policy that made it gets the
        outcome, and the task goes back to the policy of its pool's owner."""
        offer, now = closed.offer, self._now_s()
        worker_id, task_id = offer.worker_id, offer.task.task_id
        if closed.by == self.roster.by:
            if outcome is OfferOutcome.DECLINED:
                self.policy.declined(worker_id, task_id, now)
            else:
                self.policy.expired(worker_id, task_id, now)
        self.ownership.requeued(offer.task)
        self.roster.disengage(worker_id, now, offer_id=offer.offer_id)
        profile = self.roster.profiles.get(worker_id)
        region = profile.region if profile is not None else "disconnected"
        metrics.OFFER_OUTCOMES.labels(region, outcome.value).inc()
        self._wake.set()

    def withdraw_push(self, worker_id: str, offer_id: str, reason: str) -> None:
        session = self._sessions.get(worker_id)
        if session is not None and session.offer_id == offer_id:
            session.offer_id = None
            session.push(OfferWithdrawnPush(offer_id, reason))

    async def _expire_offers(self) -> None:
        now = self._clock.now()
        for offer_id in await self._store.expired_offers(now, 200):
            closed = await self._store.close_offer(offer_id, None, OfferOutcome.EXPIRED, now)
            if closed is not None:
                self.offer_closed(closed, OfferOutcome.EXPIRED)
                self.withdraw_push(closed.offer.worker_id, offer_id, "expired")

    async def _release_overdue_leases(self) -> None:
        now = self._clock.now()
        reason = "grace period ended"
        for lease_id in await self._store.overdue_leases(now, 200):
            # Checked again as it is released: the worker may be back since the list was read.
            released = await self._store.release(lease_id, reason, now, overdue=True)
            if released is None:
                continue
            lease = released.lease
            self.lease_released(lease.worker_id, lease.task, lease_id, released.by, reason)
            metrics.LEASES_RELEASED.inc()
            log.info("lease released after grace", lease_id=lease_id, worker=lease.worker_id)

    async def _expire_overdue_tasks(self) -> None:
        now = self._clock.now()
        recheck_at = now + timedelta(seconds=self._config.overdue_recheck_s)
        for task in await self._store.overdue_tasks(now, 200):
            if await self._store.expire(task, later_answers(task), now, recheck_at):
                self.policy.cancel(task.task_id, now.timestamp())
                metrics.TASKS_EXPIRED.inc()
                assert task.deadline is not None  # only tasks with one are overdue
                _count_missed(task, task.deadline)
                log.info("task expired: its deadline passed", task_id=task.task_id)

    def lease_released(
        self, worker_id: str, task: Task, lease_id: str, by: str, reason: str
    ) -> None:
        now = self._now_s()
        if by == self.roster.by:
            self.policy.lease_lost(worker_id, task.task_id, now)
        self.ownership.requeued(task)
        self.roster.disengage(worker_id, now, lease_id=lease_id)
        session = self._sessions.get(worker_id)
        if session is not None and session.lease_id == lease_id:
            # Ended by someone else while they hold it here: told now, not at their next
            # heartbeat or submit.
            session.lease = None
            message = f"lease {lease_id} ended: {reason}; its task went back to the queue"
            session.push(ErrorPush("NOT_FOUND", message, "lease"))

    def end_session(self, worker_id: str, seq: int, reason: str) -> None:
        """The worker's connection `seq` here was superseded or ended by another replica."""
        session = self._sessions.get(worker_id)
        if session is not None and session.seq <= seq:
            del self._sessions[worker_id]
            session.push(Closed(reason))
            session.open = False


def _submittable(lease: Lease | None, lease_id: str, session: WorkerSession) -> Lease:
    """The lease, if it is the session's worker's and active; raises otherwise."""
    if lease is None or lease.worker_id != session.worker_id:
        raise NotFoundError(f"lease {lease_id} is not yours")
    if not lease.active:
        raise AlreadyDoneError(f"lease {lease_id} was already submitted or released")
    return lease


def _too_large(field: str, limit: int) -> InvalidInputError:
    return InvalidInputError([Violation(field, f"larger than {limit} bytes")])


def later_answers(task: Task) -> list[str]:
    """The copies for the answers after this one that its task may still need."""
    if task.gold_answer:
        return []
    first = task.answer_of or task.task_id
    return answer_task_ids(first, task.task_type.most_answers)[task.answer_number :]


def _count_deadline_miss(task: Task, submitted_at: datetime) -> None:
    if task.deadline is not None and submitted_at > task.deadline:
        _count_missed(task, task.deadline)


def _count_missed(task: Task, deadline: datetime) -> None:
    room_s = (deadline - task.submitted_at).total_seconds()
    feasible = room_s >= task.task_type.effort_seconds
    metrics.DEADLINE_MISSES.labels("true" if feasible else "false").inc()
