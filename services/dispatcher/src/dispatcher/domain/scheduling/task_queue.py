"""A pool's queued tasks, earliest latest-start first, at O(1) per task in the common case.

Tasks are kept in buckets of one minute of latest start (deadline minus effort), first in first
out inside a bucket, with a heap of the bucket keys: a calendar queue. Deadlines are honoured to
the minute, which is far finer than the urgency margin the scheduler keeps, while pushing and
popping cost a dict lookup and a deque operation instead of a heap walk over every queued task.
Removal is lazy: a task taken or cancelled is dropped from `queued` and skipped when reached.
"""

import heapq
import math
from collections import deque

from dispatcher.domain.scheduling.policy import TaskSpec

BUCKET_S = 60.0
_NO_DEADLINE = 2**62


class TaskQueue:
    __slots__ = ("_buckets", "_keys", "effort_s", "parked", "queued")

    def __init__(self) -> None:
        # task_id -> (task, ticket): the ticket tells a current entry from a stale one.
        self.queued: dict[str, tuple[TaskSpec, int]] = {}
        self.effort_s = 0.0
        self.parked: set[str] = set()  # queued, but no longer doable before its deadline
        self._buckets: dict[int, deque[tuple[int, str]]] = {}
        self._keys: list[int] = []

    def __len__(self) -> int:
        return len(self.queued) - len(self.parked)

    def push(self, task: TaskSpec, ticket: int) -> None:
        self.queued[task.task_id] = (task, ticket)
        self.effort_s += task.effort_s
        start = latest_start(task)
        key = _NO_DEADLINE if start == math.inf else int(start // BUCKET_S)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = deque()
            heapq.heappush(self._keys, key)
        bucket.append((ticket, task.task_id))

    def remove(self, task: TaskSpec) -> None:
        if self.queued.pop(task.task_id, None) is not None:
            self.effort_s -= task.effort_s
            self.parked.discard(task.task_id)

    def peek(self, now: float) -> TaskSpec | None:
        """The queued task that must start first; tasks past doing in time are parked."""
        keys, buckets, queued = self._keys, self._buckets, self.queued
        while keys:
            bucket = buckets[keys[0]]
            while bucket:
                ticket, task_id = bucket[0]
                entry = queued.get(task_id)
                if entry is None or entry[1] != ticket:
                    bucket.popleft()
                    continue
                task = entry[0]
                if task.deadline_at is not None and now + task.effort_s > task.deadline_at:
                    bucket.popleft()
                    self.parked.add(task_id)  # stays pending: it can no longer be done in time
                    continue
                return task
            del buckets[heapq.heappop(keys)]
        return None


def latest_start(task: TaskSpec) -> float:
    if task.deadline_at is None:
        return math.inf
    return task.deadline_at - task.effort_s
