"""In-memory fakes of every port, for handler tests and local experiments.

They keep the contracts of the real adapters (first write wins, atomic release per
submission, cursors of the same shape) so the same contract tests run against both.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field

from scoring.domain.cursor import format_cursor, parse_cursor
from scoring.domain.events import SubmissionScored
from scoring.domain.model import Result, ResultEntry, TaskRecord, Verdict


class MemoryTaskBook:
    def __init__(self) -> None:
        self.tasks: dict[str, TaskRecord] = {}

    async def remember(self, task: TaskRecord) -> bool:
        if task.task_id in self.tasks:
            return False
        self.tasks[task.task_id] = task
        return True

    async def get(self, task_id: str) -> TaskRecord | None:
        return self.tasks.get(task_id)


class MemoryScoreMarks:
    def __init__(self) -> None:
        self.verdicts: dict[str, Verdict] = {}

    async def is_scored(self, submission_id: str) -> bool:
        return submission_id in self.verdicts

    async def mark_scored(self, submission_id: str, verdict: Verdict) -> None:
        self.verdicts[submission_id] = verdict


class MemoryResultLog:
    def __init__(self) -> None:
        self._logs: dict[str, list[tuple[tuple[int, int], Result]]] = {}
        self._released: set[str] = set()
        self._next_ms = 1
        self._appended = asyncio.Event()

    async def release(self, result: Result) -> bool:
        if result.submission_id in self._released:
            return False
        self._released.add(result.submission_id)
        position = (self._next_ms, 0)
        self._next_ms += 1
        self._logs.setdefault(result.platform_id, []).append((position, result))
        # Wake every waiting reader, then arm a fresh event for the next append.
        self._appended.set()
        self._appended = asyncio.Event()
        return True

    async def read(
        self, platform_id: str, after: str, limit: int, block_s: float
    ) -> list[ResultEntry]:
        start = parse_cursor(after) if after else (0, 0)
        found = self._after(platform_id, start, limit)
        if not found and block_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._appended.wait(), block_s)
            found = self._after(platform_id, start, limit)
        return found

    def _after(self, platform_id: str, start: tuple[int, int], limit: int) -> list[ResultEntry]:
        log = self._logs.get(platform_id, [])
        return [
            ResultEntry(format_cursor(*position), result)
            for position, result in log
            if position > start
        ][:limit]


class MemoryScoredEvents:
    def __init__(self) -> None:
        self.published: list[SubmissionScored] = []

    async def publish(self, event: SubmissionScored) -> None:
        self.published.append(event)


@dataclass
class MemoryPorts:
    """One fake of each port, for wiring handlers in tests."""

    tasks: MemoryTaskBook = field(default_factory=MemoryTaskBook)
    marks: MemoryScoreMarks = field(default_factory=MemoryScoreMarks)
    results: MemoryResultLog = field(default_factory=MemoryResultLog)
    events: MemoryScoredEvents = field(default_factory=MemoryScoredEvents)
