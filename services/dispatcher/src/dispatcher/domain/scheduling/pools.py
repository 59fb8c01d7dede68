"""Pools (the workers a task type fits), their regions, crews and the workers in them.

A crew is the workers of one region who share skills and sensitive-content opt-in: a pool fits
all of them or none, so a crew keeps one heap of its idle workers that every pool it fits reads.
A worker who becomes idle is pushed once, whatever the number of pools.
"""

import heapq
import itertools
import math
from dataclasses import dataclass, field

from dispatcher.domain.scheduling.exposure import Exposure
from dispatcher.domain.scheduling.local_time import next_opening
from dispatcher.domain.scheduling.policy import TaskSpec, WorkerProfile
from dispatcher.domain.scheduling.task_queue import TaskQueue

_ticket = itertools.count()

CrewKey = tuple[str, frozenset[str], bool, frozenset[str]]
ShapeKey = tuple[int, tuple[object, ...]]  # a time zone's offset and the windows in it


@dataclass(slots=True, eq=False)
class Worker:
    profile: WorkerProfile
    exposure: Exposure
    crew: "Crew"
    online: bool = False
    eligible: bool = False  # online and inside a window
    busy_task: str | None = None
    leased: bool = False
    # Changes whenever the worker's idle entry goes stale (offered, freed, left a window).
    epoch: int = 0
    window_epoch: int = 0
    # Work charged: the worker-level virtual time.
    work_s: float = 0.0
    # Registered by the caller (`worker_known`): kept while offline, however long.
    registered: bool = False

    def refund(self, task: TaskSpec) -> None:
        self.work_s -= task.effort_s
        self.exposure.release(task)


class IdleEntry:
    """A worker waiting in a crew's heap, least work first (ties: first in). Stale once the
    worker's epoch moved on. A class rather than a tuple: compiled, its comparison is a
    single native call, which is most of what a heap does."""

    __slots__ = ("epoch", "ticket", "work_s", "worker")

    def __init__(self, worker: Worker) -> None:
        self.work_s = worker.work_s
        self.ticket = next(_ticket)
        self.epoch = worker.epoch
        self.worker = worker

    def __lt__(self, other: "IdleEntry") -> bool:
        if self.work_s != other.work_s:
            return self.work_s < other.work_s
        return self.ticket < other.ticket


@dataclass(slots=True, eq=False)
class Crew:
    region: str
    skills: frozenset[str]
    sensitive_opt_in: bool
    excluded_pools: frozenset[str]
    # Idle workers by virtual time; entries whose epoch is stale are skipped.
    idle: list[IdleEntry] = field(default_factory=list)
    pools: list["Pool"] = field(default_factory=list)
    # Past this many entries the stale ones are dropped: a crew no pool here fits is never
    # popped (a replica knows every worker but schedules only its own pools), yet each
    # connection and window opening pushes an entry.
    compact_at: int = 64

    @staticmethod
    def key_of(profile: WorkerProfile) -> CrewKey:
        return (profile.region, profile.skills, profile.sensitive_opt_in, profile.excluded_pools)

    def push(self, worker: Worker) -> None:
        heapq.heappush(self.idle, IdleEntry(worker))
        if len(self.idle) > self.compact_at:
            self.idle = [entry for entry in self.idle if _current(entry)]
            heapq.heapify(self.idle)
            self.compact_at = max(64, 2 * len(self.idle))

    def top(self) -> IdleEntry | None:
        idle = self.idle
        while idle:
            entry = idle[0]
            if _current(entry):
                return entry
            heapq.heappop(idle)
        return None


def _current(entry: IdleEntry) -> bool:
    """The worker is still idle and eligible as when the entry was pushed."""
    worker = entry.worker
    return entry.epoch == worker.epoch and worker.eligible and worker.busy_task is None


@dataclass(slots=True, eq=False)
class Region:
    """One region inside one pool: its share of the pool's work and of its eligible time."""

    name: str
    crews: list[Crew] = field(default_factory=list)
    work_s: float = 0.0
    eligible_s: float = 0.0
    eligible_now: int = 0
    since: float = 0.0
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
        if worker.work_s < self.floor_s:
            worker.work_s = self.floor_s

    def leave(self, now: float) -> None:
        self._sync(now)
        self.eligible_now -= 1

    def has_idle(self) -> bool:
        for crew in self.crews:  # noqa: SIM110 - a plain loop: this runs once per decision
            if crew.top() is not None:
                return True
        return False

    def pop_idle(self, task: TaskSpec, now: float) -> Worker | None:
        """The idle worker with the least work who may take `task` (exposure rules; not
        one who answered it already)."""
        crews = self.crews
        answered_by = task.answered_by
        if len(crews) == 1 and not task.sensitive and not answered_by:
            crew = crews[0]
            entry = crew.top()
            if entry is None:
                return None
            heapq.heappop(crew.idle)
            self.floor_s = max(self.floor_s, entry.work_s)
            return entry.worker
        skipped: list[tuple[Crew, IdleEntry]] = []
        chosen: Worker | None = None
        while True:
            best: IdleEntry | None = None
            best_crew = crews[0]
            for crew in crews:
                entry = crew.top()
                if entry is not None and (best is None or entry < best):
                    best, best_crew = entry, crew
            if best is None:
                break
            heapq.heappop(best_crew.idle)
            worker = best.worker
            if worker.profile.worker_id not in answered_by and worker.exposure.allows(
                worker.profile, task, now
            ):
                chosen = worker
                self.floor_s = max(self.floor_s, best.work_s)
                break
            skipped.append((best_crew, best))
        for crew, entry in skipped:
            heapq.heappush(crew.idle, entry)
        return chosen

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
        self.tasks = TaskQueue()
        self._shapes: dict[str, dict[ShapeKey, _Shape]] = {}
        self._learned: dict[str, tuple[str, ShapeKey]] = {}  # worker -> region, shape
        self._forecasts: dict[str, tuple[float, float, float, int]] = {}
        # Nothing new since the last decision round (no task, no freed or woken worker): the
        # pool is not looked at again before `wake_at` (held work due for a recheck).
        self.settled = False
        self.wake_at = math.inf

    @property
    def queued_count(self) -> int:
        return len(self.tasks)

    def fits(self, crew: Crew) -> bool:
        if self.sensitive and not crew.sensitive_opt_in:
            return False
        return self.skills <= crew.skills and self.name not in crew.excluded_pools

    def adopt(self, crew: Crew) -> None:
        """`crew` fits this pool: its idle workers are candidates in their region."""
        crew.pools.append(self)
        region = self.regions.get(crew.region)
        if region is None:
            region = self.regions[crew.region] = Region(crew.region)
        region.crews.append(crew)

    def learn(self, worker: Worker) -> None:
        """Counts a worker's windows into the forecast of when their region wakes."""
        profile = worker.profile
        if profile.worker_id in self._learned:
            return
        key: ShapeKey = (profile.utc_offset_s, tuple(profile.windows))
        self._learned[profile.worker_id] = (profile.region, key)
        shapes = self._shapes.setdefault(profile.region, {})
        shapes.setdefault(key, _Shape(profile)).count += 1
        self._forecasts.pop(profile.region, None)

    def unlearn(self, worker_id: str) -> None:
        """No longer counts a worker (forgotten) into the forecast."""
        learned = self._learned.pop(worker_id, None)
        if learned is None:
            return
        region, key = learned
        shapes = self._shapes[region]
        shape = shapes[key]
        shape.count -= 1
        if not shape.count:
            del shapes[key]
        self._forecasts.pop(region, None)

    def join(self, worker: Worker, now: float) -> None:
        self.learn(worker)
        self.regions[worker.profile.region].join(worker, now)
        self.settled = False

    def leave(self, worker: Worker, now: float) -> None:
        self.regions[worker.profile.region].leave(now)

    def enqueue(self, task: TaskSpec, ticket: int) -> None:
        self.tasks.push(task, ticket)
        self.settled = False

    def peek(self, now: float) -> TaskSpec | None:
        return self.tasks.peek(now)

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
        wakes_at, window_s, workers = math.inf, 0.0, 0
        for shape in self._shapes.get(region.name, {}).values():
            at, length = next_opening(shape.profile, now)
            if at < wakes_at - 1.0:
                wakes_at, window_s, workers = at, length, shape.count
            elif abs(at - wakes_at) <= 1.0:
                workers += shape.count
                window_s = max(window_s, length)
        self._forecasts[region.name] = (now, wakes_at, window_s, workers)
        return wakes_at, window_s, workers
