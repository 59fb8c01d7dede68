"""Gold tasks mixed into each pool's work at a rate, so they look like any other task.

A platform's gold (control) tasks are held back and released into their pool one at a time, so
that they make up at most `rate` of what the pool dispatched (2% by default): a worker meets
them now and then, among real work, instead of in a batch they could learn to spot. Gold
still held when a pool has had no other work for `idle_release_s` is released all the same, so
no accepted task waits for ever. Wraps any DispatchPolicy; everything but submitting and
cancelling goes straight through.
"""

from collections import defaultdict
from collections.abc import Sequence

from dispatcher.domain.scheduling.policy import (
    DispatchPolicy,
    OfferDecision,
    PolicyStats,
    TaskSpec,
    WorkerProfile,
)


class GoldMixing:
    def __init__(self, inner: DispatchPolicy, rate: float, idle_release_s: float) -> None:
        self._inner = inner
        self._rate = rate
        self._idle_release_s = idle_release_s
        self.name = inner.name
        self._held: dict[str, dict[str, TaskSpec]] = defaultdict(dict)  # pool -> id -> task
        self._ordinary: dict[str, int] = defaultdict(int)
        self._released: dict[str, int] = defaultdict(int)
        self._last_ordinary: dict[str, float] = {}

    @property
    def held(self) -> int:
        return sum(len(tasks) for tasks in self._held.values())

    def submit(self, task: TaskSpec, now: float) -> None:
        if not task.gold or not 0 < self._rate < 1:
            self._inner.submit(task, now)
            if not task.gold:
                self._ordinary[task.pool] += 1
                self._last_ordinary[task.pool] = now
                self._release_due(task.pool, now)
            return
        self._held[task.pool].setdefault(task.task_id, task)
        self._release_due(task.pool, now)

    def cancel(self, task_id: str, now: float) -> bool:
        for tasks in self._held.values():
            if tasks.pop(task_id, None) is not None:
                return True
        return self._inner.cancel(task_id, now)

    def decide(self, now: float) -> list[OfferDecision]:
        for pool in [p for p, tasks in self._held.items() if tasks]:
            if now - self._last_ordinary.get(pool, float("-inf")) >= self._idle_release_s:
                for task in self._take(pool, len(self._held[pool])):
                    self._inner.submit(task, now)
        return self._inner.decide(now)

    def next_wakeup(self, now: float) -> float | None:
        times = [
            self._last_ordinary.get(pool, now) + self._idle_release_s
            for pool, tasks in self._held.items()
            if tasks
        ]
        inner = self._inner.next_wakeup(now)
        if inner is not None:
            times.append(inner)
        return min(times, default=None)

    def _release_due(self, pool: str, now: float) -> None:
        # Release while one more gold keeps the pool's gold share within the rate.
        while self._held[pool] and (self._released[pool] + 1) <= self._rate * (
            self._ordinary[pool] + self._released[pool] + 1
        ):
            for task in self._take(pool, 1):
                self._inner.submit(task, now)

    def _take(self, pool: str, count: int) -> list[TaskSpec]:
        held = self._held[pool]
        taken = [held.pop(task_id) for task_id in list(held)[:count]]
        self._released[pool] += len(taken)
        return taken

    # -- the rest is the inner policy's -------------------------------------------------
    def worker_online(self, worker: WorkerProfile, now: float) -> None:
        self._inner.worker_online(worker, now)

    def worker_offline(self, worker_id: str, now: float) -> None:
        self._inner.worker_offline(worker_id, now)

    def accepted(self, worker_id: str, task_id: str, now: float) -> None:
        self._inner.accepted(worker_id, task_id, now)

    def declined(self, worker_id: str, task_id: str, now: float) -> None:
        self._inner.declined(worker_id, task_id, now)

    def expired(self, worker_id: str, task_id: str, now: float) -> None:
        self._inner.expired(worker_id, task_id, now)

    def completed(self, worker_id: str, task_id: str, worked_s: float, now: float) -> None:
        self._inner.completed(worker_id, task_id, worked_s, now)

    def lease_lost(self, worker_id: str, task_id: str, now: float) -> None:
        self._inner.lease_lost(worker_id, task_id, now)

    def heartbeat(self, worker_id: str, task_id: str, now: float) -> None:
        self._inner.heartbeat(worker_id, task_id, now)

    def timeouts(self, now: float) -> Sequence[object]:
        return self._inner.timeouts(now)

    def stats(self) -> PolicyStats:
        return self._inner.stats()
