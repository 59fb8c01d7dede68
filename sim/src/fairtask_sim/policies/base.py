"""Bookkeeping the baseline policies share: who is online, inside their window and idle; the
queue of each pool in arrival order; outstanding offers and leases; the daily exposure cap.

A baseline differs from another only in who counts as "looking for work" (`_looking`), how
those workers are grouped (`_group_key`), and who gets the oldest task (`decide`)."""

import heapq
import random
from collections.abc import Hashable, Iterator

from dispatcher.domain.scheduling.policy import OfferDecision, PolicyStats, TaskSpec, WorkerProfile
from fairtask_sim.timeofday import inside, local_day, next_boundary


class IndexedSet:
    """A set with O(1) add, remove and uniform random choice."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def add(self, item: str) -> None:
        if item not in self._index:
            self._index[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: str) -> None:
        position = self._index.pop(item, None)
        if position is None:
            return
        last = self._items.pop()
        if position < len(self._items):
            self._items[position] = last
            self._index[last] = position

    def choice(self, rng: random.Random) -> str:
        return self._items[rng.randrange(len(self._items))]


class BaselinePolicy:
    name = "baseline"
    # The worker picked the task themselves (a grab or a poll), so there is nothing to decline:
    # the simulator treats each decision as accepted at once.
    offers_are_grabs = True

    def __init__(self, rng: random.Random, offer_ttl_s: float = 120.0) -> None:
        self._rng = rng
        self._offer_ttl_s = offer_ttl_s
        self._profiles: dict[str, WorkerProfile] = {}
        self._online: set[str] = set()
        self._in_window: dict[str, bool] = {}
        self._looking: set[str] = set()
        self._boundaries: list[tuple[float, int, str]] = []
        self._boundary_token: dict[str, int] = {}
        self._offer: dict[str, tuple[str, float]] = {}
        self._lease: dict[str, str] = {}
        self._tasks: dict[str, TaskSpec] = {}
        self._queued: set[str] = set()
        self._queues: dict[str, list[tuple[float, int, str]]] = {}
        self._pool_needs: dict[str, TaskSpec] = {}
        self._pools_of: dict[str, list[str]] = {}
        self._groups: dict[Hashable, IndexedSet] = {}
        self._exposure_s: dict[tuple[str, int], float] = {}
        self._fresh: list[str] = []
        self._seq = 0
        self._stats = PolicyStats()

    # -- hooks -------------------------------------------------------------------------------

    def _looks_for_work(self, worker_id: str) -> bool:
        raise NotImplementedError

    def _group_key(self, pool: str, profile: WorkerProfile) -> Hashable:
        return pool

    def decide(self, now: float) -> list[OfferDecision]:
        raise NotImplementedError

    def _extra_wakeup(self, now: float) -> float | None:
        return None

    # -- the contract ------------------------------------------------------------------------

    def worker_online(self, worker: WorkerProfile, now: float) -> None:
        worker_id = worker.worker_id
        if worker_id in self._online:
            return
        if worker_id not in self._profiles:
            self._profiles[worker_id] = worker
            self._pools_of[worker_id] = [
                p for p, task in self._pool_needs.items() if _fits(worker, task)
            ]
        self._online.add(worker_id)
        self._in_window[worker_id] = inside(worker.windows, now, worker.utc_offset_s)
        token = self._boundary_token.get(worker_id, 0) + 1
        self._boundary_token[worker_id] = token
        at = next_boundary(worker.windows, now, worker.utc_offset_s)
        heapq.heappush(self._boundaries, (at, token, worker_id))
        self._refresh(worker_id)

    def worker_offline(self, worker_id: str, now: float) -> None:
        if worker_id not in self._online:
            return
        self._online.discard(worker_id)
        offer = self._offer.get(worker_id)
        if offer is not None:
            self.expired(worker_id, offer[0], now)
        self._refresh(worker_id)

    def submit(self, task: TaskSpec, now: float) -> None:
        if task.task_id in self._tasks:
            return
        if task.pool not in self._pool_needs:
            self._learn_pool(task)
        self._tasks[task.task_id] = task
        self._enqueue(task)

    def cancel(self, task_id: str, now: float) -> bool:
        if task_id not in self._queued:
            return False
        self._queued.discard(task_id)
        del self._tasks[task_id]
        return True

    def accepted(self, worker_id: str, task_id: str, now: float) -> None:
        offer = self._offer.pop(worker_id, None)
        if offer is None or offer[0] != task_id:
            return
        self._lease[worker_id] = task_id
        task = self._tasks[task_id]
        if task.sensitive:
            profile = self._profiles[worker_id]
            key = (worker_id, local_day(offer[1], profile.utc_offset_s))
            self._exposure_s[key] = self._exposure_s.get(key, 0.0) + task.effort_s

    def declined(self, worker_id: str, task_id: str, now: float) -> None:
        offer = self._offer.get(worker_id)
        if offer is None or offer[0] != task_id:
            return
        del self._offer[worker_id]
        self._enqueue(self._tasks[task_id])
        self._refresh(worker_id)

    def expired(self, worker_id: str, task_id: str, now: float) -> None:
        self.declined(worker_id, task_id, now)

    def completed(self, worker_id: str, task_id: str, worked_s: float, now: float) -> None:
        if self._lease.get(worker_id) != task_id:
            return
        del self._lease[worker_id]
        del self._tasks[task_id]
        self._refresh(worker_id)

    def lease_lost(self, worker_id: str, task_id: str, now: float) -> None:
        if self._lease.get(worker_id) != task_id:
            return
        del self._lease[worker_id]
        self._enqueue(self._tasks[task_id])
        self._refresh(worker_id)

    def heartbeat(self, worker_id: str, task_id: str, now: float) -> None:
        return None

    def timeouts(self, now: float) -> list[object]:
        return []  # the simulator runs the offer and grace timers

    def next_wakeup(self, now: float) -> float | None:
        boundaries = self._boundaries
        while boundaries and self._boundary_token.get(boundaries[0][2]) != boundaries[0][1]:
            heapq.heappop(boundaries)
        candidates = [boundaries[0][0]] if boundaries else []
        extra = self._extra_wakeup(now)
        if extra is not None:
            candidates.append(extra)
        return min(candidates) if candidates else None

    def stats(self) -> PolicyStats:
        return self._stats

    # -- shared machinery --------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        """Applies the window openings and closings that happened up to `now`."""
        boundaries = self._boundaries
        while boundaries and boundaries[0][0] <= now:
            _, token, worker_id = heapq.heappop(boundaries)
            if self._boundary_token.get(worker_id) != token or worker_id not in self._online:
                continue
            profile = self._profiles[worker_id]
            self._in_window[worker_id] = inside(profile.windows, now, profile.utc_offset_s)
            at = next_boundary(profile.windows, now, profile.utc_offset_s)
            heapq.heappush(boundaries, (at, token, worker_id))
            self._refresh(worker_id)

    def _idle(self, worker_id: str) -> bool:
        return (
            worker_id in self._online
            and worker_id not in self._offer
            and worker_id not in self._lease
        )

    def _refresh(self, worker_id: str) -> None:
        looking = self._looks_for_work(worker_id)
        if looking == (worker_id in self._looking):
            return
        profile = self._profiles[worker_id]
        if looking:
            self._looking.add(worker_id)
            self._fresh.append(worker_id)
            for pool in self._pools_of[worker_id]:
                self._groups.setdefault(self._group_key(pool, profile), IndexedSet()).add(worker_id)
        else:
            self._looking.discard(worker_id)
            for pool in self._pools_of[worker_id]:
                group = self._groups.get(self._group_key(pool, profile))
                if group is not None:
                    group.discard(worker_id)

    def _learn_pool(self, task: TaskSpec) -> None:
        self._pool_needs[task.pool] = task
        self._queues[task.pool] = []
        for worker_id, profile in self._profiles.items():
            if _fits(profile, task):
                self._pools_of[worker_id].append(task.pool)
                if worker_id in self._looking:
                    key = self._group_key(task.pool, profile)
                    self._groups.setdefault(key, IndexedSet()).add(worker_id)

    def _enqueue(self, task: TaskSpec) -> None:
        self._seq += 1
        self._queued.add(task.task_id)
        heapq.heappush(self._queues[task.pool], (task.arrived_at, self._seq, task.task_id))

    def _oldest(self, pool: str) -> TaskSpec | None:
        queue = self._queues[pool]
        while queue and queue[0][2] not in self._queued:
            heapq.heappop(queue)
        return self._tasks[queue[0][2]] if queue else None

    def _pools_with_work(self) -> list[str]:
        return [pool for pool in self._queues if self._oldest(pool) is not None]

    def _within_cap(self, worker_id: str, task: TaskSpec, now: float) -> bool:
        if not task.sensitive:
            return True
        profile = self._profiles[worker_id]
        used = self._exposure_s.get((worker_id, local_day(now, profile.utc_offset_s)), 0.0)
        return used + task.effort_s <= profile.exposure_cap_s

    def _pick(self, group: IndexedSet, task: TaskSpec, now: float) -> str | None:
        """A uniformly random member of `group` who may take `task` (exposure cap)."""
        if not group:
            return None
        for _ in range(8):
            worker_id = group.choice(self._rng)
            if self._within_cap(worker_id, task, now):
                return worker_id
        members = [w for w in group if self._within_cap(w, task, now)]
        return self._rng.choice(members) if members else None

    def _offer_to(self, worker_id: str, task: TaskSpec, now: float) -> OfferDecision:
        self._queued.discard(task.task_id)
        heapq.heappop(self._queues[task.pool])
        self._offer[worker_id] = (task.task_id, now)
        self._stats.offers += 1
        self._refresh(worker_id)
        return OfferDecision(worker_id, task.task_id, now, now + self._offer_ttl_s)


def _fits(profile: WorkerProfile, task: TaskSpec) -> bool:
    if task.sensitive and not profile.sensitive_opt_in:
        return False
    return all(skill in profile.skills for skill in task.skills)
