"""What scoring's handlers need from the outside world. Each port has a Redis or Kafka adapter
and an in-memory fake in adapters/memory.py."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from scoring.domain.events import EligibilityChange, SubmissionScored
from scoring.domain.model import Result, ResultEntry, TaskRecord, Verdict
from scoring.domain.reviews import Review, ReviewState


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


class ReviewBook(Protocol):
    """Reviews, their indexes and the outbox of steps not yet announced."""

    async def get(self, submission_id: str) -> Review | None: ...

    async def save(
        self, review: Review, expected: ReviewState | None, release: Result | None, now: datetime
    ) -> bool:
        """Stores `review` if the stored one is in state `expected` (None: none is stored),
        queues its announcement and appends `release` to its platform's result log unless
        that submission was released before, all in one atomic step. False, changing nothing,
        when the stored state is another."""
        ...

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Submissions whose open review or appeal reached its deadline by `now`."""
        ...

    async def pending(self, platform_id: str, after: str, limit: int) -> list[Review]:
        """The platform's reviews waiting for a decision, oldest first, after page token
        `after` (empty: from the first)."""
        ...

    async def open_appeals(self, platform_id: str, after: str, limit: int) -> list[Review]: ...

    async def of_worker(self, worker_id: str, before: str, limit: int) -> list[Review]:
        """The worker's reviews, newest first, before page token `before`."""
        ...

    async def unannounced(self, older_than: datetime, limit: int) -> list[tuple[str, str]]:
        """(submission id, state) of steps stored by `older_than` and not announced yet."""
        ...

    async def announced(self, submission_id: str, state: ReviewState) -> None: ...

    async def counts(self) -> tuple[int, int]:
        """(reviews waiting for a platform's decision, appeals waiting for an answer)."""
        ...


class ReviewEvents(Protocol):
    async def publish(self, review: Review) -> None:
        """Announces the review as it stands; returns once durable in Kafka."""
        ...


@dataclass(frozen=True)
class GoldTally:
    gold_passed: int
    gold_failed: int

    @property
    def version(self) -> int:
        """Grows with every gold result counted: orders the estimates made from it."""
        return self.gold_passed + self.gold_failed


class QualityBook(Protocol):
    """Each worker's gold results per (platform, task type), and what was announced."""

    async def count_gold(
        self, submission_id: str, worker_id: str, platform_id: str, task_type: str, passed: bool
    ) -> GoldTally:
        """Counts the result once per submission (a re-run counts nothing) and returns the
        tally after it."""
        ...

    async def claim(
        self, worker_id: str, platform_id: str, task_type: str, version: int, eligible: bool
    ) -> bool:
        """Atomically: True when the caller must announce `eligible` for this tally version
        (it changes what was announced, or the same version's announcement is still
        pending); False when nothing is to be said or a newer version was claimed already."""
        ...

    async def published(
        self, worker_id: str, platform_id: str, task_type: str, version: int
    ) -> None:
        """The announcement claimed for `version` is durable."""
        ...


class QualityEvents(Protocol):
    async def publish(self, change: EligibilityChange) -> None:
        """Returns once durable in Kafka."""
        ...
