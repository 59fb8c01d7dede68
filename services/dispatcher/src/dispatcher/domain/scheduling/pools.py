"""Pools (the workers a task type fits), their regions, and the workers in them."""

import heapq
import itertools
from dataclasses import dataclass, field

from dispatcher.domain.scheduling.exposure import Exposure
from dispatcher.domain.scheduling.local_time import next_opening
from dispatcher.domain.scheduling.policy import TaskSpec, WorkerProfile

_ticket = itertools.count()


@dataclass(slots=True, eq=False)
class Worker:
    profile: WorkerProfile
    exposure: Exposure
    online: bool = False
    eligible: bool = False  # online and inside a window
    busy_task: str | None = None
    leased: bool = False
    # Changes whenever the worker's idle entries go stale (offered, freed, left a window).
    epoch: int = 0
    window_epoch: int = 0
    # Work charged: the worker-level virtual time.
    work_s: float = 0.0

    def charge(self, task: TaskSpec, now: float) -> None:
        self.work_s += task.effort_s
        self.exposure.reserve(self.profile, task, now)

    def refund(self, task: TaskSpec) -> None:
        self.work_s -= task.effort_s
        self.exposure.release(task)


@dataclass(slots=True, eq=False)
class Region:
    name: str
    work_s: float = 0.0
    eligible_s: float = 0.0
    eligible_now: int = 0
    since: float = 0.0
    # Idle workers by virtual time: (work_s, ticket, epoch, worker); stale entries skipped.
    idle: list[tuple[float, int, int, Worker]] = field(default_factory=list)
    # Start tag for workers who come online: no banking credit while away.
    floor_s: float = 0.0
    # Woke up (no eligible worker before) and has not been offered anything since.
    fresh: bool = False

    def ratio(self, now: float, horizon_s: float) -> float:
        offered = self.eligible_s + self.eligible_now * (now - self.since + horizon_s)
        return self.work_s / offered if offered > 0 else (0.0 if self.work_s == 0 else 1e18)

    def _sync(self, now: float) -> None:
        self.eligible_s += self.eligible_now * (now - self.since)
        self.since = now

    def join(self, worker: Worker, now: float) -> None:
        self._sync(now)
        if self.eligible_now == 0:
            self.fresh = True
        self.eligible_now += 1
        worker.work_s = max(worker.work_s, self.floor_s)
        if worker.busy_task is None:
            self.push_idle(worker)

    def leave(self, worker: Worker, now: float) -> None:
        self._sync(now)
        self.eligible_now -= 1

    def push_idle(self, worker: Worker) -> None:
        heapq.heappush(self.idle, (worker.work_s, next(_ticket), worker.epoch, worker))

    def has_idle(self) -> bool:
        idle = self.idle
        while idle:
            _, _, epoch, worker = idle[0]
            if epoch == worker.epoch and worker.eligible and worker.busy_task is None:
                return True
            heapq.heappop(idle)
        return False

    def pop_idle(self, task: TaskSpec, now: float) -> Worker | None:
        """The idle worker with the least work who may take `task` (exposure rules)."""
        skipped: list[tuple[float, int, int, Worker]] = []
        chosen: Worker | None = None
        while self.has_idle():
            entry = heapq.heappop(self.idle)
            worker = entry[3]
            if worker.exposure.allows(worker.profile, task, now):
                chosen = worker
                self.floor_s = max(self.floor_s, entry[0])
                break
            skipped.append(entry)
        for entry in skipped:
            heapq.heappush(self.idle, entry)
        return chosen

    def charge(self, effort_s: float) -> None:
        self.work_s += effort_s
        self.fresh = False

    def refund(self, effort_s: float) -> None:
        self.work_s -= effort_s


@dataclass(slots=True, eq=False)
class _Shape:
    """Workers of a region who share time zone and windows: one forecast for all of them."""

    profile: WorkerProfile
    count: int = 0


class Pool:
    def __init__(self, name: str, skills: frozenset[str], sensitive: bool) -> None:
        self.name = name
        self.skills = skills
        self.sensitive = sensitive
        self.regions: dict[str, Region] = {}
        self.queued: dict[str, tuple[TaskSpec, int]] = {}
        self.queued_effort = 0.0
        self.parked: set[str] = set()  # queued but no longer feasible
        self._heap: list[tuple[float, int, str]] = []
        self._shapes: dict[str, dict[tuple[int, tuple[object, ...]], _Shape]] = {}
        self._learned: set[str] = set()
        self._forecasts: dict[str, tuple[float, float, float, int]] = {}
        # Nothing new since the last decision round (no task, no freed or woken worker): the
        # pool is not looked at again before `wake_at` (held work due for a recheck).
        self.settled = False
        self.wake_at = float("inf")

    @property
    def queued_count(self) -> int:
        return len(self.queued) - len(self.parked)

    def fits(self, worker: Worker) -> bool:
        profile = worker.profile
        if self.sensitive and not profile.sensitive_opt_in:
            return False
        return self.skills <= profile.skills

    def learn(self, worker: Worker) -> None:
        if worker.profile.worker_id in self._learned or not self.fits(worker):
            return
        self._learned.add(worker.profile.worker_id)
        profile = worker.profile
        self.regions.setdefault(profile.region, Region(profile.region))
        shapes = self._shapes.setdefault(profile.region, {})
        key = (profile.utc_offset_s, tuple(profile.windows))
        shapes.setdefault(key, _Shape(profile)).count += 1
        self._forecasts.pop(profile.region, None)

    def join(self, worker: Worker, now: float) -> None:
        self.learn(worker)
        self.regions[worker.profile.region].join(worker, now)
        self.settled = False

    def leave(self, worker: Worker, now: float) -> None:
        region = self.regions.get(worker.profile.region)
        if region is not None:
            region.leave(worker, now)

    def enqueue(self, task: TaskSpec, seq: int, offer_ttl_s: float) -> None:
        self.queued[task.task_id] = (task, seq)
        self.queued_effort += task.effort_s
        self.settled = False
        heapq.heappush(self._heap, (self.latest_start(task), seq, task.task_id))

    def dequeue(self, task: TaskSpec) -> None:
        if self.queued.pop(task.task_id, None) is not None:
            self.queued_effort -= task.effort_s
            self.parked.discard(task.task_id)

    remove = dequeue

    def peek(self, now: float) -> TaskSpec | None:
        """The queued task that must start first (EDF; FIFO without deadlines)."""
        heap = self._heap
        while heap:
            _, seq, task_id = heap[0]
            entry = self.queued.get(task_id)
            if entry is None or entry[1] != seq:
                heapq.heappop(heap)
                continue
            task = entry[0]
            if task.deadline_at is not None and now + task.effort_s > task.deadline_at:
                heapq.heappop(heap)
                self.parked.add(task_id)  # stays pending; it can no longer be done in time
                continue
            return task
        return None

    @staticmethod
    def latest_start(task: TaskSpec) -> float:
        if task.deadline_at is None:
            return float("inf")
        return task.deadline_at - task.effort_s

    def totals(self, now: float, horizon_s: float) -> tuple[float, float]:
        """Work charged and eligible seconds offered (with look-ahead) over the whole pool."""
        work = offered = 0.0
        for region in self.regions.values():
            work += region.work_s
            offered += region.eligible_s + region.eligible_now * (now - region.since + horizon_s)
        return work, offered

    def awake_with_idle(self) -> list[Region]:
        return [r for r in self.regions.values() if r.eligible_now and r.has_idle()]

    def forecast(self, region: Region, now: float) -> tuple[float, float, int]:
        """When the region's known workers next open a window, for how long, and how many."""
        cached = self._forecasts.get(region.name)
        if cached is not None and cached[0] <= now < cached[1]:
            return cached[1], cached[2], cached[3]
        wakes_at, window_s, workers = float("inf"), 0.0, 0
        for shape in self._shapes.get(region.name, {}).values():
            at, length = next_opening(shape.profile, now)
            if at < wakes_at - 1.0:
                wakes_at, window_s, workers = at, length, shape.count
            elif abs(at - wakes_at) <= 1.0:
                workers += shape.count
                window_s = max(window_s, length)
        self._forecasts[region.name] = (now, wakes_at, window_s, workers)
        return wakes_at, window_s, workers
