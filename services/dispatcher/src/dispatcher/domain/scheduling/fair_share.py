"""The fair scheduler: work shared across regions in proportion to the worker-time they offer.

Per pool (the workers whose skills fit a task type), each region keeps the work it was charged
and the eligible worker-seconds it offered. Its ratio work / eligible-time is its virtual time:
it grows when the region is charged and falls while its workers wait; a region asleep offers no
time, so it banks nothing. Decisions, earliest deadline first:
- the awake region with the lowest ratio gets the task, and inside it the worker with the
  least work since they came online (start-time fair queueing, no banking either);
- *holding*: an awake region takes work only while its ratio is no higher than that of every
  region that will wake before the task must start;
- *hold cap*: work beyond what those sleeping regions can absorb in their next window is
  released now to the awake region with the lowest ratio;
- *pacing*: ratios count a short look-ahead of each region's available worker-time, so held
  work drains at the pace the waking region offers time rather than all at once;
- *EDF*: a task about to miss its deadline goes to anyone eligible.
Hard filters come first: window, skills, sensitive opt-in and exposure cap, one offer per worker,
deadline feasibility.
"""

import heapq
import itertools
import math
from dataclasses import dataclass

from dispatcher.domain.scheduling.absences import Absences
from dispatcher.domain.scheduling.exposure import Exposure
from dispatcher.domain.scheduling.local_time import window_state
from dispatcher.domain.scheduling.policy import (
    DAY_S,
    OfferDecision,
    PolicyStats,
    TaskSpec,
    WorkerProfile,
)
from dispatcher.domain.scheduling.pools import Crew, CrewKey, Pool, Worker
from dispatcher.domain.scheduling.states import (
    LeaseRules,
    TaskBook,
    TaskPhase,
    Timeout,
    TimeoutKind,
)
from dispatcher.domain.scheduling.task_queue import latest_start as latest_start_of


@dataclass(frozen=True)
class FairConfig:
    offer_ttl_s: float = 120.0
    # Look-ahead of available worker-time counted in every ratio (pacing).
    pacing_horizon_s: float = 900.0
    # A task whose latest start is nearer than this is offered to anyone eligible (EDF).
    urgency_s: float = 1800.0
    # Held work may not exceed what the sleeping regions would take in their next window at the
    # pool's current work rate, times this.
    hold_cap_share: float = 1.5
    # How often held work is looked at again while nothing else happens.
    recheck_s: float = 60.0
    # Set, the scheduler runs the offer, heartbeat, grace and deadline timers itself (see
    # `timeouts`); unset, the caller runs them and reports each outcome (the dispatcher keeps
    # them in Redis so they survive a restart).
    lease_rules: LeaseRules | None = None
    # A worker who came online, then was offline this long (and holds nothing) is forgotten:
    # what is kept of them (their windows in the forecast, their exposure today, their work)
    # would otherwise stay for as long as the process runs. Longer than a day, so their local
    # day and any break are over; if they come back they start at their region's floor, as a
    # new worker does. Workers registered with `worker_known` stay until the caller says.
    forget_offline_after_s: float = 2 * DAY_S

    def __post_init__(self) -> None:
        if self.forget_offline_after_s <= 0:
            raise ValueError("forget_offline_after_s must be positive")


class FairScheduler:
    name = "fair"

    def __init__(self, offer_ttl_s: float = 120.0, config: FairConfig | None = None) -> None:
        self._config = config or FairConfig(offer_ttl_s=offer_ttl_s)
        self._workers: dict[str, Worker] = {}
        self._pools: dict[str, Pool] = {}
        self._crews: dict[CrewKey, Crew] = {}
        self._book = TaskBook(self._config.lease_rules)
        self._boundaries: list[tuple[float, int, str]] = []  # (when, epoch, worker)
        # Workers offline and not forgotten yet (not those registered with worker_known).
        self._offline = Absences(self._config.forget_offline_after_s)
        self._seq = itertools.count()
        self._stats = PolicyStats()

    # -- who is there -----------------------------------------------------------------
    def worker_known(self, worker: WorkerProfile, now: float = 0.0) -> None:
        """Registers a worker's windows before they connect, to forecast when regions wake.
        A registered worker is never forgotten while offline."""
        self._know(worker, now).registered = True

    def _know(self, worker: WorkerProfile, now: float) -> Worker:
        known = self._workers.get(worker.worker_id)
        if known is None:
            known = self._workers[worker.worker_id] = Worker(worker, Exposure(), self._crew(worker))
            for pool in known.crew.pools:
                pool.learn(known)
            return known
        if Crew.key_of(worker) == Crew.key_of(known.profile):
            known.profile = worker
            return known
        # New skills, opt-in or region: the worker moves to another crew and other pools.
        eligible = known.eligible
        if eligible:
            self._set_eligible(known, False, now)
        known.profile, known.crew = worker, self._crew(worker)
        for pool in known.crew.pools:
            pool.learn(known)
        if eligible:
            self._set_eligible(known, True, now)
        return known

    def worker_online(self, worker: WorkerProfile, now: float) -> None:
        known = self._know(worker, now)
        if known.online:
            return
        known.online = True
        self._offline.returned(worker.worker_id)
        if known.busy_task is not None:  # back within grace: the paused lease goes on
            self._book.resume(known.busy_task, worker.worker_id, now)
        self._refresh_window(known, now)

    def worker_offline(self, worker_id: str, now: float) -> None:
        known = self._workers.get(worker_id)
        if known is None or not known.online:
            return
        self._set_eligible(known, False, now)
        known.online = False
        known.epoch += 1
        if not known.registered:
            self._offline.left(worker_id, now)
        if known.busy_task is not None:  # the lease waits out the grace period
            self._book.pause(known.busy_task, worker_id, now)

    # -- tasks ------------------------------------------------------------------------
    def submit(self, task: TaskSpec, now: float) -> None:
        if not self._book.add(task):
            return
        pool = self._pools.get(task.pool)
        if pool is None:
            pool = self._pools[task.pool] = Pool(task.pool, frozenset(task.skills), task.sensitive)
            for crew in self._crews.values():
                if pool.fits(crew):
                    pool.adopt(crew)
            for worker in self._workers.values():
                if pool.fits(worker.crew):
                    pool.learn(worker)
                    if worker.eligible:
                        pool.join(worker, now)
        pool.enqueue(task, next(self._seq))

    def cancel(self, task_id: str, now: float) -> bool:
        task = self._book.queued(task_id)
        if task is None:
            return False
        self._pools[task.pool].tasks.remove(task)
        self._book.cancel(task_id)
        return True

    # -- decisions --------------------------------------------------------------------
    def decide(self, now: float) -> list[OfferDecision]:
        self._advance_windows(now)
        self._forget_long_gone(now)
        decisions: list[OfferDecision] = []
        for pool in self._pools.values():
            if pool.queued_count and (not pool.settled or now >= pool.wake_at):
                pool.settled, pool.wake_at = True, math.inf
                self._decide_pool(pool, now, decisions)
        return decisions

    def _decide_pool(self, pool: Pool, now: float, decisions: list[OfferDecision]) -> None:
        config = self._config
        horizon = config.pacing_horizon_s
        ttl = config.offer_ttl_s
        book, stats, tasks = self._book, self._stats, pool.tasks
        # Ranked once per round and kept in a heap: only the region just charged changes its
        # ratio, and no sleeping region wakes in the middle of a round. A region just woken
        # gets its first offer at once; then the lowest ratio leads.
        ranked = [
            (not region.fresh, region.ratio(now, horizon), region.name, region)
            for region in pool.awake_with_idle()
        ]
        heapq.heapify(ranked)
        sleepers = [
            (*pool.forecast(region, now), region.ratio(now, horizon))
            for region in pool.regions.values()
            if not region.eligible_now
        ]
        work_s, offered_s = pool.totals(now, horizon)
        made = len(decisions)
        charged_s = 0.0
        # Further answers passed over because every idle worker ranked first answered them.
        passed_over = 0
        while ranked:
            task = tasks.peek(now)
            if task is None:
                break
            seen, ratio, name, region = ranked[0]
            if seen and sleepers:
                latest_start = latest_start_of(task)
                if latest_start - now > config.urgency_s:
                    rate = work_s / offered_s if offered_s > 0 else 0.0
                    if self._hold(pool, ratio, sleepers, latest_start, rate):
                        # Look again later: ratios move with time, and the task may turn urgent.
                        recheck = min(now + config.recheck_s, latest_start - config.urgency_s)
                        pool.wake_at = max(recheck, now + 1.0)
                        break
            worker = region.pop_idle(task, now)
            if worker is None:
                if task.answered_by and passed_over < len(tasks):
                    # Its idle workers answered it already: the work behind it goes first,
                    # or a worker who answered would wait for someone else to take it.
                    tasks.remove(task)
                    tasks.push(task, next(self._seq))
                    passed_over += 1
                    continue
                # None of its idle workers may take this work (exposure caps).
                heapq.heappop(ranked)
                continue
            tasks.remove(task)
            task_id = task.task_id
            worker_id = worker.profile.worker_id
            book.offer(task_id, worker_id, now + ttl)
            worker.busy_task = task_id
            worker.epoch += 1
            effort_s = task.effort_s
            region.work_s += effort_s
            region.fresh = False
            worker.work_s += effort_s
            if task.sensitive:
                worker.exposure.reserve(worker.profile, task, now)
            work_s += effort_s
            charged_s += effort_s
            if region.has_idle():
                heapq.heapreplace(ranked, (True, region.ratio(now, horizon), name, region))
            else:
                heapq.heappop(ranked)
            decisions.append(OfferDecision(worker_id, task_id, now, now + ttl))
        stats.offers += len(decisions) - made
        stats.charged_effort_s += charged_s

    def _hold(
        self,
        pool: Pool,
        ratio: float,
        sleepers: list[tuple[float, float, int, float]],
        latest_start: float,
        rate: float,
    ) -> bool:
        """True when a region that wakes before `latest_start` is behind (has a lower ratio),
        and the work already queued does not exceed what those sleepers would take in their next
        window at the pool's current rate of work per eligible second (the hold cap)."""
        absorb_s = 0.0
        for wakes_at, window_s, workers, sleeper_ratio in sleepers:
            if wakes_at <= latest_start and workers and sleeper_ratio < ratio:
                absorb_s += workers * min(window_s, latest_start - wakes_at)
        if absorb_s == 0.0:
            return False
        return pool.tasks.effort_s <= absorb_s * rate * self._config.hold_cap_share

    # -- outcomes ---------------------------------------------------------------------
    def accepted(self, worker_id: str, task_id: str, now: float) -> None:
        if self._book.lease(task_id, worker_id, now):
            worker = self._workers[worker_id]
            worker.leased = True

    def heartbeat(self, worker_id: str, task_id: str, now: float) -> None:
        # A beat on a lease paused for missing beats means the worker is back on it.
        if not self._book.heartbeat(task_id, worker_id, now):
            self._book.resume(task_id, worker_id, now)

    def timeouts(self, now: float) -> list[Timeout]:
        """Runs the timers that are due (only with `lease_rules`): a lapsed offer is refunded
        and requeued, a lease without heartbeats is paused for the grace period, a lease whose
        grace ran out goes back to the queue, and a task whose deadline passed in the queue
        expires. Returns what happened, for the caller to tell workers and platforms."""
        fired: list[Timeout] = []
        while due := self._book.due(now):  # a requeued task may have a deadline due too
            fired += due
            for timeout in due:
                self._apply(timeout, now)
        return fired

    def _apply(self, timeout: Timeout, now: float) -> None:
        task_id, worker_id = timeout.task_id, timeout.worker_id
        if timeout.kind is TimeoutKind.OFFER_EXPIRED:
            self._give_back(worker_id, task_id, now)
        elif timeout.kind is TimeoutKind.HEARTBEAT_MISSED:
            self._book.pause(task_id, worker_id, now)
        elif timeout.kind is TimeoutKind.GRACE_ENDED:
            self.lease_lost(worker_id, task_id, now)
        else:
            task = self._book.queued(task_id)
            if task is not None:
                self._pools[task.pool].tasks.remove(task)
                self._book.expire(task_id)

    def phase(self, task_id: str) -> TaskPhase | None:
        return self._book.phase(task_id)

    def tasks_in_play(self) -> int:
        """Tasks queued, offered, leased or paused: finished ones are not kept."""
        return len(self._book)

    def declined(self, worker_id: str, task_id: str, now: float) -> None:
        self._give_back(worker_id, task_id, now)

    def expired(self, worker_id: str, task_id: str, now: float) -> None:
        self._give_back(worker_id, task_id, now)

    def completed(self, worker_id: str, task_id: str, worked_s: float, now: float) -> None:
        task = self._book.complete(task_id, worker_id)
        worker = self._workers.get(worker_id)
        if task is None or worker is None or worker.busy_task != task_id:
            return
        worker.exposure.finished(task, worked_s, now)
        self._free(worker, now)

    def lease_lost(self, worker_id: str, task_id: str, now: float) -> None:
        task = self._book.requeue(task_id, worker_id)
        if task is None:
            return
        worker = self._workers.get(worker_id)
        if worker is not None and worker.busy_task == task_id:
            # Not refunded: the time was worked (and is paid), and sensitive content was seen.
            worker.exposure.finished(task, 0.0, now)
            self._free(worker, now)
        self._pools[task.pool].enqueue(task, next(self._seq))

    def next_wakeup(self, now: float) -> float | None:
        soonest = self._boundaries[0][0] if self._boundaries else math.inf
        soonest = min(soonest, self._book.next_timer())
        for pool in self._pools.values():
            if pool.queued_count and pool.wake_at < soonest:
                soonest = pool.wake_at
        return None if soonest == math.inf else soonest

    def stats(self) -> PolicyStats:
        return self._stats

    # -- internals --------------------------------------------------------------------
    def _give_back(self, worker_id: str, task_id: str, now: float) -> None:
        """Refund the charge and requeue: declining or letting an offer lapse costs nothing."""
        task = self._book.requeue(task_id, worker_id)
        worker = self._workers.get(worker_id)
        if task is None or worker is None or worker.busy_task != task_id:
            return
        pool = self._pools[task.pool]
        pool.regions[worker.profile.region].refund(task.effort_s)
        worker.refund(task)
        self._stats.refunded_effort_s += task.effort_s
        pool.enqueue(task, next(self._seq))
        self._free(worker, now)

    def _free(self, worker: Worker, now: float) -> None:
        worker.busy_task = None
        worker.leased = False
        worker.epoch += 1
        if worker.eligible:
            worker.crew.push(worker)
            for pool in worker.crew.pools:
                pool.settled = False

    def _crew(self, profile: WorkerProfile) -> Crew:
        key = Crew.key_of(profile)
        crew = self._crews.get(key)
        if crew is None:
            crew = self._crews[key] = Crew(*key)
            for pool in self._pools.values():
                if pool.fits(crew):
                    pool.adopt(crew)
        return crew

    def _refresh_window(self, worker: Worker, now: float) -> None:
        inside, change = window_state(worker.profile, now)
        self._set_eligible(worker, inside, now)
        if change != math.inf:
            heapq.heappush(
                self._boundaries, (change, worker.window_epoch, worker.profile.worker_id)
            )

    def _advance_windows(self, now: float) -> None:
        boundaries = self._boundaries
        while boundaries and boundaries[0][0] <= now:
            _, epoch, worker_id = heapq.heappop(boundaries)
            worker = self._workers.get(worker_id)
            if worker is not None and worker.online and epoch == worker.window_epoch:
                self._refresh_window(worker, now)

    def _forget_long_gone(self, now: float) -> None:
        # A lease still waiting for them keeps them.
        for worker_id in self._offline.overdue(now, self._holds_a_task):
            del self._workers[worker_id]
            for pool in self._pools.values():
                pool.unlearn(worker_id)

    def _holds_a_task(self, worker_id: str) -> bool:
        return self._workers[worker_id].busy_task is not None

    def known_workers(self) -> int:
        """Workers the scheduler keeps anything of: online, or offline but not yet forgotten."""
        return len(self._workers)

    def _set_eligible(self, worker: Worker, eligible: bool, now: float) -> None:
        worker.window_epoch += 1
        if worker.eligible == eligible:
            return
        worker.eligible = eligible
        worker.epoch += 1
        for pool in worker.crew.pools:
            if eligible:
                pool.join(worker, now)
            else:
                pool.leave(worker, now)
        if eligible and worker.busy_task is None:
            worker.crew.push(worker)
