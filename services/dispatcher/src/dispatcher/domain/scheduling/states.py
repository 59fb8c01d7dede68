"""Each task's life in the scheduler as an explicit state machine, with its timers.

    queued -> offered(worker, until expiry) -> leased(worker, until the next heartbeat is due)
    leased -> paused(worker, until grace ends)    the worker dropped off or stopped beating
    paused -> leased                              the worker came back within grace
    leased -> completed
    offered/leased/paused -> queued               declined, offer lapsed, grace ran out
    queued -> cancelled | expired                 the platform cancelled; the deadline passed

A task that is completed, cancelled or expired is forgotten: a process schedules millions of
tasks in its life and keeps only those still in play, and the ids of the last FINISHED_KEPT
finished ones, so that one delivered again is still refused (the dispatcher's store refuses
any finished task, however old). Anything else is a bug and raises.

Timers are kept only when the book owns them (`rules` given): the simulator and the tests let
it, while the dispatcher keeps its timers in Redis, where they survive a restart, and reports
their outcomes through the same transitions.
"""

import heapq
import itertools
import math
from dataclasses import dataclass
from enum import Enum

from dispatcher.domain.scheduling.policy import TaskSpec
from dispatcher.domain.scheduling.recent_ids import RecentIds


class TaskPhase(Enum):
    QUEUED = "queued"
    OFFERED = "offered"
    LEASED = "leased"
    PAUSED = "paused"


class TimeoutKind(Enum):
    OFFER_EXPIRED = "offer expired"
    HEARTBEAT_MISSED = "heartbeat missed"
    GRACE_ENDED = "grace period ended"
    DEADLINE_PASSED = "deadline passed"


@dataclass(frozen=True, slots=True)
class Timeout:
    kind: TimeoutKind
    task_id: str
    worker_id: str  # "" for a deadline that passed in the queue
    at: float


@dataclass(frozen=True, slots=True)
class LeaseRules:
    # A lease whose worker sent no heartbeat for this long is treated as a disconnect.
    heartbeat_timeout_s: float = 30.0
    # How long a paused lease stays reserved for its worker.
    grace_s: float = 900.0


class IllegalTransitionError(Exception):
    pass


_HELD = (TaskPhase.OFFERED, TaskPhase.LEASED, TaskPhase.PAUSED)


class _Entry:
    # A plain class, made once per task: compiled, its constructor is native.
    __slots__ = ("phase", "task", "version", "worker_id")

    def __init__(self, task: TaskSpec, phase: TaskPhase) -> None:
        self.task = task
        self.phase = phase
        self.worker_id = ""
        self.version = 0  # renewed on every transition: older timers are stale


# About 15 MB of ids; minutes of work at a thousand tasks a second.
FINISHED_KEPT = 100_000


class TaskBook:
    def __init__(self, rules: LeaseRules | None = None, finished_kept: int = FINISHED_KEPT) -> None:
        self._entries: dict[str, _Entry] = {}
        self._finished = RecentIds(finished_kept)
        self._rules = rules
        self._timers: list[tuple[float, int, str, int]] = []  # (at, seq, task_id, version)
        self._seq = itertools.count()

    @property
    def rules(self) -> LeaseRules | None:
        return self._rules

    def add(self, task: TaskSpec) -> bool:
        """False if the task is in play or finished lately (submission is idempotent)."""
        if task.task_id in self._entries or task.task_id in self._finished:
            return False
        entry = self._entries[task.task_id] = _Entry(task, TaskPhase.QUEUED)
        self._arm_deadline(entry)
        return True

    def phase(self, task_id: str) -> TaskPhase | None:
        """None for a task not in play: never added, or finished."""
        entry = self._entries.get(task_id)
        return entry.phase if entry is not None else None

    def queued(self, task_id: str) -> TaskSpec | None:
        entry = self._entries.get(task_id)
        return entry.task if entry is not None and entry.phase is TaskPhase.QUEUED else None

    def offer(self, task_id: str, worker_id: str, until: float) -> None:
        entry = self._entries[task_id]
        if entry.phase is not TaskPhase.QUEUED:
            raise IllegalTransitionError(f"offer of a {entry.phase.value} task {task_id}")
        entry.phase, entry.worker_id = TaskPhase.OFFERED, worker_id
        self._arm(entry, until)

    def lease(self, task_id: str, worker_id: str, now: float) -> bool:
        return self._move(task_id, worker_id, TaskPhase.OFFERED, TaskPhase.LEASED, self._beat(now))

    def heartbeat(self, task_id: str, worker_id: str, now: float) -> bool:
        return self._move(task_id, worker_id, TaskPhase.LEASED, TaskPhase.LEASED, self._beat(now))

    def pause(self, task_id: str, worker_id: str, now: float) -> bool:
        """The worker dropped off: the lease stays theirs until the grace period ends."""
        until = now + self._rules.grace_s if self._rules else math.inf
        return self._move(task_id, worker_id, TaskPhase.LEASED, TaskPhase.PAUSED, until)

    def resume(self, task_id: str, worker_id: str, now: float) -> bool:
        return self._move(task_id, worker_id, TaskPhase.PAUSED, TaskPhase.LEASED, self._beat(now))

    def complete(self, task_id: str, worker_id: str) -> TaskSpec | None:
        entry = self._held_by(task_id, worker_id, TaskPhase.OFFERED, TaskPhase.LEASED)
        if entry is None:
            return None
        self._finish(task_id)
        return entry.task

    def requeue(self, task_id: str, worker_id: str) -> TaskSpec | None:
        """Back to the queue from this worker's offer or lease; None if it was not theirs."""
        entry = self._held_by(task_id, worker_id, *_HELD)
        if entry is None:
            return None
        entry.phase, entry.worker_id = TaskPhase.QUEUED, ""
        self._arm_deadline(entry)
        return entry.task

    def cancel(self, task_id: str) -> None:
        self._close(task_id, "cancelled")

    def expire(self, task_id: str) -> None:
        """The deadline passed while the task waited: nobody can do it in time any more."""
        self._close(task_id, "expired")

    def due(self, now: float) -> list[Timeout]:
        """The timers that ran out by `now`, earliest first; the caller applies each."""
        timers, entries, out = self._timers, self._entries, []
        while timers and timers[0][0] <= now:
            at, _, task_id, version = heapq.heappop(timers)
            entry = entries.get(task_id)
            if entry is None or entry.version != version:
                continue
            out.append(Timeout(_KIND[entry.phase], task_id, entry.worker_id, at))
        return out

    def next_timer(self) -> float:
        timers, entries = self._timers, self._entries
        while timers and _stale(timers[0], entries):
            heapq.heappop(timers)
        return timers[0][0] if timers else math.inf

    def __len__(self) -> int:
        """Tasks in play."""
        return len(self._entries)

    def _close(self, task_id: str, outcome: str) -> None:
        entry = self._entries[task_id]
        if entry.phase is not TaskPhase.QUEUED:
            raise IllegalTransitionError(f"{outcome}: task {task_id} is {entry.phase.value}")
        self._finish(task_id)

    def _finish(self, task_id: str) -> None:
        del self._entries[task_id]  # its timers find nothing and are dropped
        self._finished.add(task_id)

    def _held_by(self, task_id: str, worker_id: str, *phases: TaskPhase) -> _Entry | None:
        entry = self._entries.get(task_id)
        if entry is None or entry.phase not in phases or entry.worker_id != worker_id:
            return None
        return entry

    def _move(
        self, task_id: str, worker_id: str, source: TaskPhase, target: TaskPhase, until: float
    ) -> bool:
        """`source` -> `target` if the task is in `source` and held by `worker_id`."""
        entry = self._held_by(task_id, worker_id, source)
        if entry is None:
            return False
        entry.phase = target
        self._arm(entry, until)
        return True

    def _beat(self, now: float) -> float:
        """When the next heartbeat is due."""
        return now + self._rules.heartbeat_timeout_s if self._rules else math.inf

    def _arm_deadline(self, entry: _Entry) -> None:
        deadline = entry.task.deadline_at
        self._arm(entry, deadline if deadline is not None and self._rules else math.inf)

    def _arm(self, entry: _Entry, until: float) -> None:
        # From one sequence for every task: a task forgotten and added again never matches
        # the timers of its first life.
        entry.version = next(self._seq)
        if until != math.inf and self._rules is not None:
            heapq.heappush(
                self._timers, (until, next(self._seq), entry.task.task_id, entry.version)
            )


def _stale(timer: tuple[float, int, str, int], entries: dict[str, _Entry]) -> bool:
    entry = entries.get(timer[2])
    return entry is None or entry.version != timer[3]


_KIND = {
    TaskPhase.QUEUED: TimeoutKind.DEADLINE_PASSED,
    TaskPhase.OFFERED: TimeoutKind.OFFER_EXPIRED,
    TaskPhase.LEASED: TimeoutKind.HEARTBEAT_MISSED,
    TaskPhase.PAUSED: TimeoutKind.GRACE_ENDED,
}
