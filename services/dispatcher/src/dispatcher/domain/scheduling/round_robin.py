"""The walking skeleton's dispatch as a policy: idle workers in turn, oldest fitting task first.

No fairness between regions, no holding, no windows: a baseline and a stand-in for tests.
"""

from collections import deque

from dispatcher.domain.scheduling.policy import (
    OfferDecision,
    PolicyStats,
    TaskSpec,
    WorkerProfile,
)


class RoundRobinPolicy:
    name = "round_robin"

    def __init__(self, offer_ttl_s: float = 120.0) -> None:
        self._offer_ttl_s = offer_ttl_s
        self._profiles: dict[str, WorkerProfile] = {}
        self._idle: deque[str] = deque()
        self._busy: dict[str, str] = {}
        self._queue: dict[str, TaskSpec] = {}
        self._arrival: dict[str, int] = {}  # first-submission order, kept across requeues
        self._taken: dict[str, TaskSpec] = {}  # offered or leased
        self._stats = PolicyStats()

    def worker_online(self, worker: WorkerProfile, now: float) -> None:
        self._profiles[worker.worker_id] = worker
        if worker.worker_id not in self._busy and worker.worker_id not in self._idle:
            self._idle.append(worker.worker_id)

    def worker_offline(self, worker_id: str, now: float) -> None:
        self._profiles.pop(worker_id, None)
        if worker_id in self._idle:
            self._idle.remove(worker_id)

    def submit(self, task: TaskSpec, now: float) -> None:
        if task.task_id not in self._taken:
            self._queue.setdefault(task.task_id, task)
            self._arrival.setdefault(task.task_id, len(self._arrival))

    def cancel(self, task_id: str, now: float) -> bool:
        return self._queue.pop(task_id, None) is not None

    def decide(self, now: float) -> list[OfferDecision]:
        decisions: list[OfferDecision] = []
        for _ in range(len(self._idle)):
            worker_id = self._idle.popleft()
            task = self._first_fitting(self._profiles[worker_id])
            if task is None:
                self._idle.append(worker_id)
                continue
            del self._queue[task.task_id]
            self._taken[task.task_id] = task
            self._busy[worker_id] = task.task_id
            self._stats.offers += 1
            self._stats.charged_effort_s += task.effort_s
            decisions.append(OfferDecision(worker_id, task.task_id, now, now + self._offer_ttl_s))
        return decisions

    def _first_fitting(self, worker: WorkerProfile) -> TaskSpec | None:
        """The oldest queued task the worker has the skills for (a scan: this is a baseline)."""
        fitting = [
            t
            for t in self._queue.values()
            if all(s in worker.skills for s in t.skills)
            and t.pool not in worker.excluded_pools
            and worker.worker_id not in t.answered_by
        ]
        return min(fitting, key=lambda t: self._arrival[t.task_id], default=None)

    def accepted(self, worker_id: str, task_id: str, now: float) -> None:
        return None

    def declined(self, worker_id: str, task_id: str, now: float) -> None:
        self._give_back(worker_id, task_id)

    def expired(self, worker_id: str, task_id: str, now: float) -> None:
        self._give_back(worker_id, task_id)

    def completed(self, worker_id: str, task_id: str, worked_s: float, now: float) -> None:
        self._taken.pop(task_id, None)
        if self._busy.get(worker_id) == task_id:
            del self._busy[worker_id]
            if worker_id in self._profiles:
                self._idle.append(worker_id)

    def lease_lost(self, worker_id: str, task_id: str, now: float) -> None:
        if self._busy.get(worker_id) == task_id:
            del self._busy[worker_id]
        task = self._taken.pop(task_id, None)
        if task is not None:
            self._queue[task_id] = task

    def heartbeat(self, worker_id: str, task_id: str, now: float) -> None:
        return None

    def timeouts(self, now: float) -> list[object]:
        return []  # the caller runs the timers

    def next_wakeup(self, now: float) -> float | None:
        return None

    def stats(self) -> PolicyStats:
        return self._stats

    def _give_back(self, worker_id: str, task_id: str) -> None:
        """Refund and requeue; the task keeps its place in line."""
        if self._busy.get(worker_id) != task_id:
            return
        del self._busy[worker_id]
        task = self._taken.pop(task_id)
        self._queue[task_id] = task
        self._stats.refunded_effort_s += task.effort_s
        if worker_id in self._profiles and worker_id not in self._idle:
            self._idle.append(worker_id)
