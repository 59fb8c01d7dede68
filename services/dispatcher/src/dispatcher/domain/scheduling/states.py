"""Each task's life in the scheduler as an explicit state machine.

queued -> offered(worker) -> leased(worker) -> completed; offered/leased -> queued again on a
decline, expiry or lost lease; queued -> cancelled. Anything else is a bug and raises.
"""

from dataclasses import dataclass
from enum import Enum

from dispatcher.domain.scheduling.policy import TaskSpec


class TaskPhase(Enum):
    QUEUED = "queued"
    OFFERED = "offered"
    LEASED = "leased"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class IllegalTransitionError(Exception):
    pass


@dataclass(slots=True)
class _Entry:
    task: TaskSpec
    phase: TaskPhase
    worker_id: str = ""


class TaskBook:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def add(self, task: TaskSpec) -> bool:
        """False if the task is already known (submission is idempotent)."""
        if task.task_id in self._entries:
            return False
        self._entries[task.task_id] = _Entry(task, TaskPhase.QUEUED)
        return True

    def phase(self, task_id: str) -> TaskPhase | None:
        entry = self._entries.get(task_id)
        return entry.phase if entry is not None else None

    def queued(self, task_id: str) -> TaskSpec | None:
        entry = self._entries.get(task_id)
        return entry.task if entry is not None and entry.phase is TaskPhase.QUEUED else None

    def offer(self, task_id: str, worker_id: str) -> None:
        entry = self._entries[task_id]
        if entry.phase is not TaskPhase.QUEUED:
            raise IllegalTransitionError(f"offer of a {entry.phase.value} task {task_id}")
        entry.phase, entry.worker_id = TaskPhase.OFFERED, worker_id

    def lease(self, task_id: str, worker_id: str) -> bool:
        entry = self._held_by(task_id, worker_id, TaskPhase.OFFERED)
        if entry is None:
            return False
        entry.phase = TaskPhase.LEASED
        return True

    def complete(self, task_id: str, worker_id: str) -> TaskSpec | None:
        entry = self._held_by(task_id, worker_id, TaskPhase.OFFERED, TaskPhase.LEASED)
        if entry is None:
            return None
        entry.phase = TaskPhase.COMPLETED
        return entry.task

    def requeue(self, task_id: str, worker_id: str) -> TaskSpec | None:
        """Back to the queue from this worker's offer or lease; None if it was not theirs."""
        entry = self._held_by(task_id, worker_id, TaskPhase.OFFERED, TaskPhase.LEASED)
        if entry is None:
            return None
        entry.phase, entry.worker_id = TaskPhase.QUEUED, ""
        return entry.task

    def cancel(self, task_id: str) -> None:
        entry = self._entries[task_id]
        if entry.phase is not TaskPhase.QUEUED:
            raise IllegalTransitionError(f"cancel of a {entry.phase.value} task {task_id}")
        entry.phase = TaskPhase.CANCELLED

    def count(self, phase: TaskPhase) -> int:
        return sum(1 for e in self._entries.values() if e.phase is phase)

    def _held_by(self, task_id: str, worker_id: str, *phases: TaskPhase) -> _Entry | None:
        entry = self._entries.get(task_id)
        if entry is None or entry.phase not in phases or entry.worker_id != worker_id:
            return None
        return entry
