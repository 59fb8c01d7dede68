"""What scoring's handlers need from the outside world. Each port has a Redis or Kafka adapter
and an in-memory fake in adapters/memory.py."""

from typing import Protocol

from scoring.domain.events import SubmissionScored
from scoring.domain.model import Result, ResultEntry, TaskRecord, Verdict


class TaskBook(Protocol):
    """The tasks scoring has seen on tasks.submitted."""

    async def remember(self, task: TaskRecord) -> bool:
        """Stores the task unless it is already known (first write wins, so a redelivery
        changes nothing). True when it was new. Does not block."""
        ...

    async def get(self, task_id: str) -> TaskRecord | None:
        """The task, or None when its TaskSubmitted has not been consumed yet."""
        ...


class ScoreMarks(Protocol):
    """Which submissions already had their SubmissionScored event published."""

    async def is_scored(self, submission_id: str) -> bool: ...

    async def mark_scored(self, submission_id: str, verdict: Verdict) -> None:
        """Records that the scored event is durable in Kafka. Idempotent."""
        ...


class ResultLog(Protocol):
    """Per-platform, append-only logs of released results, read from a cursor."""

    async def release(self, result: Result) -> bool:
        """Appends the result to its platform's log unless this submission_id was released
        before, as one atomic step, so a re-run after a crash never releases twice. True when
        it was appended now."""
        ...

    async def read(
        self, platform_id: str, after: str, limit: int, block_s: float
    ) -> list[ResultEntry]:
        """Up to `limit` entries of the platform's log after cursor `after` (empty: from the
        start), oldest first. When there are none, waits up to `block_s` for one and may then
        return an empty list. Raises InvalidCursorError for a malformed cursor and
        StoreUnavailableError when the log cannot be reached."""
        ...


class ScoredEvents(Protocol):
    async def publish(self, event: SubmissionScored) -> None:
        """Returns once the event is durable in Kafka; raises if it could not be made so."""
        ...
