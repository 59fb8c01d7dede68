"""Keeping replicas in step through the transition log, relaying it to Kafka, and burying
replicas that died.

Every replica follows the whole log. What it made itself it has already acted on; from the
others' entries it learns who connected where, which workers are busy, which offers to push to
the connections it holds, and the outcomes of offers its own policy made. One replica at a time
relays the log to Kafka, in log order; after a crash the next one starts where the last left
off, so an event may be published twice, with the same id, but never lost.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from dispatcher.domain.errors import InvalidInputError
from dispatcher.domain.events import OfferOutcome
from dispatcher.service_layer.dispatch import Dispatch
from dispatcher.service_layer.ports import (
    EventPublisher,
    OfferClosedNow,
    OnlineWorker,
    RecordedEvent,
    TaskStore,
    TransitionLog,
)
from dispatcher.service_layer.profiles import worker_profile
from dispatcher.service_layer.roster import Engagement
from dispatcher.service_layer.sessions import SUPERSEDED
from dispatcher.service_layer.transitions import (
    Assigned,
    Cancelled,
    Connected,
    Disconnected,
    Noted,
    Offered,
    OfferEnded,
    Queued,
    Released,
    Submitted,
    Transition,
    event_of,
)
from fairtask_runtime.clock import Clock

log = structlog.get_logger(__name__)

_REASONS = {OfferOutcome.EXPIRED: "expired", OfferOutcome.WITHDRAWN: "withdrawn"}


@dataclass(frozen=True)
class ReplicationConfig:
    # A replica that has not said it is alive for this long is dead: its connections end.
    replica_ttl_s: float = 10.0
    batch: int = 500
    wait_s: float = 1.0
    # Below a full batch the relay waits this long before reading again, so the entries
    # written meanwhile go out together: at partial load entries trickle in one by one, and
    # each relay round (its turn, the read, a Kafka request, the log's trim) costs the same
    # for one entry as for hundreds. Events reach Kafka this much later; offers do not wait.
    # A replica alone follows the log the same way: every entry is its own, already acted on.
    linger_s: float = 0.01
    # How often a replica records how far it has followed the log (the log is trimmed up to
    # the slowest live replica): often enough to keep the log short, not once per entry.
    cursor_every_s: float = 0.1


class Replication:
    def __init__(
        self,
        dispatch: Dispatch,
        store: TaskStore,
        transitions: TransitionLog,
        events: EventPublisher,
        clock: Clock,
        config: ReplicationConfig,
    ) -> None:
        self._dispatch = dispatch
        self._store = store
        self._log = transitions
        self._events = events
        self._clock = clock
        self._config = config
        self._me = dispatch.replica_id
        self.position = "0-0"  # how far this replica has followed the log
        self._relayed: str | None = None  # how far it has relayed it, while its turn lasts
        self._cursor_due = 0.0  # when to record self.position next (monotonic seconds)
        self.alone = False  # no other replica was alive when this one last looked

    # -- following --------------------------------------------------------------------------
    async def start(self) -> None:
        """Learns who is connected now; the log from here on tells the rest."""
        await self._log.beat(self._me, self._alive_until())
        await self._look_around()
        self.position = await self._log.end()
        await self._log.read_up_to(self._me, self.position)
        for worker in await self._store.online_workers():
            self._learn_online(worker)

    async def run_follow(self) -> None:
        await self._retrying(self.start)
        while True:
            await self._retrying(self.run_follow_once)

    async def run_follow_once(self) -> None:
        applied = await self.catch_up(self._config.wait_s)
        if self.alone and applied < self._config.batch:
            # Nobody else writes: what comes next is this replica's own doing, already acted
            # on, so it is read in batches rather than entry by entry. Another replica
            # starting is seen at the next liveness round; until then its entries wait this
            # long at most.
            await asyncio.sleep(self._config.linger_s)

    async def _retrying(self, step: Callable[[], Awaitable[object]]) -> None:
        try:
            await step()
        except Exception:
            # Redis hiccup: the log keeps what was not applied yet; try again shortly.
            log.exception("following the transition log failed; retrying")
            await asyncio.sleep(self._config.wait_s)

    async def catch_up(self, wait_s: float = 0.0) -> int:
        """Applies the entries written since the last call; returns how many."""
        batch = await self._log.read(self.position, self._config.batch, wait_s, noting=self._me)
        for transition in batch:
            await self.apply(transition)
        if batch:
            if any(t.origin != self._me for t in batch):
                # Another replica's change may have freed a worker this one schedules (a
                # submission, a release, an offer ended): decide again rather than wait for
                # the next arrival, which may never come.
                self._dispatch.wake()
            self.position = batch[-1].position
            if time.monotonic() >= self._cursor_due:
                self._cursor_due = time.monotonic() + self._config.cursor_every_s
                await self._log.read_up_to(self._me, self.position)
        return len(batch)

    async def apply(self, t: Transition) -> None:
        """Brings this replica up to date with one change. Its own changes (read as `Noted`) it
        acted on when it made them; it only notes again which worker is busy with what, in log
        order, since the others' changes may have come in between."""
        d, roster, now = self._dispatch, self._dispatch.roster, t.at.timestamp()
        theirs = t.origin != self._me
        mine = roster.by
        match t.change:
            case Queued(task) if theirs:
                d.ownership.requeued(task)
            case Offered(offer, by, _, holder, seq):
                engagement = Engagement(offer.task.task_id, offer.offer_id, "", by)
                roster.engage(offer.worker_id, engagement, now)
                if theirs and holder == self._me:
                    await d.push_offer(offer, seq, t.at)
            case OfferEnded(offer, by, outcome):
                if theirs:
                    d.offer_closed(OfferClosedNow(offer, by), outcome)
                    d.withdraw_push(offer.worker_id, offer.offer_id, _REASONS.get(outcome, ""))
                roster.disengage(offer.worker_id, now, offer_id=offer.offer_id)
            case Cancelled(task_id, _, offer_id, worker_id, by):
                if theirs:
                    if offer_id and by == mine:
                        d.policy.expired(worker_id, task_id, now)
                    d.policy.cancel(task_id, now)
                    d.withdraw_push(worker_id, offer_id, "cancelled by the platform")
                if offer_id:
                    roster.disengage(worker_id, now, offer_id=offer_id)
            case Assigned(lease, by):
                if theirs and by == mine:
                    d.policy.accepted(lease.worker_id, lease.task.task_id, now)
                engagement = Engagement(lease.task.task_id, lease.offer_id, lease.lease_id, by)
                roster.engage(lease.worker_id, engagement, now)
            case Submitted(lease, by, _, _, worked_s):
                if theirs and by == mine:
                    d.policy.completed(lease.worker_id, lease.task.task_id, worked_s, now)
                roster.disengage(lease.worker_id, now, lease_id=lease.lease_id)
            case Released(lease, by, _, reason):
                if theirs:
                    d.lease_released(lease.worker_id, lease.task, lease.lease_id, by, reason)
                roster.disengage(lease.worker_id, now, lease_id=lease.lease_id)
            case Connected(hello, seq, holder, lease_id, task_id, offer_id, by):
                if lease_id:
                    roster.engage(hello.worker_id, Engagement(task_id, offer_id, lease_id, by), now)
                if theirs:
                    self._learn_online(OnlineWorker(hello, seq, holder))
            case Noted(kind, worker_id, task_id, offer_id, lease_id, by):
                if kind == "offered" or (kind in ("assigned", "connected") and lease_id):
                    engagement = Engagement(task_id, offer_id, lease_id, by)
                    roster.engage(worker_id, engagement, now)
                elif kind in ("closed", "cancelled") and offer_id:
                    roster.disengage(worker_id, now, offer_id=offer_id)
                elif kind in ("submitted", "released"):
                    roster.disengage(worker_id, now, lease_id=lease_id)
            case Disconnected(worker_id, _, seq) if theirs:
                # Ours (buried by a replica that took us for dead), or the end of the latest.
                d.end_session(worker_id, seq, "connect again: your connection was ended")
                if seq >= roster.seqs.get(worker_id, 0) and d.session(worker_id) is None:
                    roster.gone(worker_id, now)

    def _learn_online(self, worker: OnlineWorker) -> None:
        d, roster, now = self._dispatch, self._dispatch.roster, self._clock.now()
        worker_id = worker.hello.worker_id
        if worker.seq <= roster.seqs.get(worker_id, 0):
            return  # older than a connection we know of
        if worker.offer_id:
            engagement = Engagement(worker.task_id, worker.offer_id, worker.lease_id, worker.by)
            roster.engage(worker_id, engagement, now.timestamp())
        try:
            profile = worker_profile(worker.hello, now)
        except InvalidInputError:
            return  # the replica it connected to accepted it; a zone this one lacks is skipped
        d.end_session(worker_id, worker.seq - 1, SUPERSEDED)
        roster.connected(profile, worker.seq, now.timestamp())

    # -- relaying to Kafka ------------------------------------------------------------------
    async def run_relay(self) -> None:
        try:
            while True:
                try:
                    relayed = await self.relay(self._config.wait_s)
                    if relayed is None:
                        await asyncio.sleep(self._config.replica_ttl_s / 3)
                    elif relayed < self._config.batch:
                        await asyncio.sleep(self._config.linger_s)
                except Exception:
                    # Kafka or Redis hiccup: nothing was marked published, so nothing is lost.
                    log.exception("relaying the transition log failed; retrying")
                    self._relayed = None
                    await asyncio.sleep(self._config.wait_s)
        except asyncio.CancelledError:
            # Stopping: what this replica did last (its workers leaving) still gets out.
            while self._relayed is not None:
                self._relayed, count = await self._relay(self._relayed, 0.0)
                if not count:
                    break
            raise

    async def relay(self, wait_s: float = 0.0) -> int | None:
        """Publishes the next entries if it is this replica's turn: how many log entries it
        relayed (0 if none came within `wait_s`), or None if it is not its turn."""
        if not await self._log.lead(self._me, self._config.replica_ttl_s):
            self._relayed = None
            return None
        if self._relayed is None:  # our turn (again): from wherever the last relay got to
            self._relayed = await self._log.published()
        self._relayed, count = await self._relay(self._relayed, wait_s)
        return count

    async def _relay(self, upto: str, wait_s: float) -> tuple[str, int]:
        batch = await self._log.read(upto, self._config.batch, wait_s)
        recorded = [
            RecordedEvent(t.event_id, t.at, event)
            for t in batch
            if t.event_id and (event := event_of(t)) is not None
        ]
        if recorded:
            await self._events.publish_recorded(recorded)
        if not batch:
            return upto, 0
        await self._log.mark_published(batch[-1].position, self._clock.now())
        return batch[-1].position, len(batch)

    # -- liveness ---------------------------------------------------------------------------
    async def run_liveness(self) -> None:
        while True:
            try:
                await self.check_liveness()
            except Exception:
                log.exception("liveness round failed; retrying")
            await asyncio.sleep(self._config.replica_ttl_s / 3)

    async def check_liveness(self) -> None:
        """Says this replica is alive, and ends the connections of replicas that are not."""
        await self._log.beat(self._me, self._alive_until())
        for replica in await self._log.dead(self._clock.now()):
            if replica != self._me:
                await self._bury(replica)
        await self._look_around()

    async def _look_around(self) -> None:
        self.alone = await self._log.alive(self._clock.now()) == [self._me]

    async def _bury(self, replica: str) -> None:
        workers = await self._log.connections_of(replica)
        log.warning("replica died; ending its connections", replica=replica, workers=len(workers))
        for worker_id in workers:
            await self._dispatch.bury(worker_id, replica)
        await self._log.forget(replica)

    async def leave(self) -> None:
        """Stopping: the others end whatever connections this replica still holds."""
        await self._log.beat(self._me, datetime.fromtimestamp(0, UTC))

    def _alive_until(self) -> datetime:
        return self._clock.now() + timedelta(seconds=self._config.replica_ttl_s)
