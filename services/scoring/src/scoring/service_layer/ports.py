"""What scoring's handlers need from the outside world. Each port has a Redis or Kafka adapter
and an in-memory fake in adapters/memory.py."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from scoring.domain.answers import AnswerSheet, GivenAnswer
from scoring.domain.events import (
    AnswersAggregated,
    AnswerWanted,
    EligibilityChange,
    SubmissionScored,
)
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
        it was appended now. An aggregate is released once per task (`Result.release_key`)."""
        ...

    async def all_released(self, submission_ids: Sequence[str]) -> bool:
        """Whether every one of these submissions' results has been released."""
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
class QualityTally:
    """A worker's evidence on one task type: gold results, and agreement with settled
    aggregates of several answers."""

    gold_passed: int
    gold_failed: int
    agreed: int = 0
    disagreed: int = 0

    @property
    def version(self) -> int:
        """Grows with every result counted: orders the estimates made from it."""
        return self.gold_passed + self.gold_failed + self.agreed + self.disagreed


class QualityBook(Protocol):
    """Each worker's gold and agreement results per (platform, task type), and what was
    announced."""

    async def count_gold(
        self, submission_id: str, worker_id: str, platform_id: str, task_type: str, passed: bool
    ) -> QualityTally:
        """Counts the result once per submission (a re-run counts nothing) and returns the
        tally after it."""
        ...

    async def count_agreement(
        self, submission_id: str, worker_id: str, platform_id: str, task_type: str, agreed: bool
    ) -> QualityTally:
        """Counts whether the submission agreed with its task's aggregate, once per
        submission (a re-run counts nothing), and returns the tally after it."""
        ...

    async def tally(self, worker_id: str, platform_id: str, task_type: str) -> QualityTally:
        """The tally as it stands (all zero for a worker never counted)."""
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


class AnswerBook(Protocol):
    """Per platform task with several answers: its answer sheet, the steps not yet announced
    and the aggregates not yet released. Every change is one atomic step, so handlers of two
    answers to one task, running at once anywhere, never both advance it."""

    async def record(self, task_id: str, answer: GivenAnswer) -> AnswerSheet:
        """Adds the answer unless its worker answered the task already or the task is
        settled (then a no-op), and returns the sheet after it. Idempotent."""
        ...

    async def get(self, task_id: str) -> AnswerSheet | None: ...

    async def ask(self, seen: AnswerSheet, wanted: AnswerWanted, now: datetime) -> bool:
        """Records that `wanted` was asked for and queues its announcement, if the stored
        sheet is still unsettled with `seen`'s answers and asked count. False, changing
        nothing, when another handler moved the sheet on meanwhile."""
        ...

    async def settle(self, seen: AnswerSheet, aggregated: AnswersAggregated, now: datetime) -> bool:
        """Stores the aggregate, queues its announcement and its release, under the same
        condition as `ask`."""
        ...

    async def announced(self, task_id: str, step: str) -> None:
        """The step's announcement is durable; a later step's stays queued."""
        ...

    async def unannounced(self, older_than: datetime, limit: int) -> list[str]:
        """Tasks with a step stored by `older_than` and not announced yet."""
        ...

    async def unreleased(self, older_than: datetime, limit: int) -> list[str]:
        """Settled tasks whose aggregate was not released and not checked since
        `older_than`, least recently checked first."""
        ...

    async def checked(self, task_id: str, released: bool, now: datetime) -> None:
        """The aggregate's release was tried at `now`: done, or to be tried again later."""
        ...

    async def asked_before(self, older_than: datetime, limit: int) -> list[str]:
        """Unsettled tasks that last asked for an answer by `older_than`, oldest first (some
        may have their answer by now)."""
        ...

    async def ask_again(self, seen: AnswerSheet, wanted: AnswerWanted, now: datetime) -> bool:
        """Stores `wanted` (the same answer asked again) as the last ask, at `now`, if the
        sheet is still unsettled with `seen`'s answers and asked count; else (and for a sheet
        no longer waiting) stops listing the task and returns False."""
        ...

    async def stop_asking(self, task_id: str) -> None:
        """The task leaves the list `asked_before` reads."""
        ...


class OverlapEvents(Protocol):
    """tasks.overlap. Both return once durable in Kafka; the same step published twice has
    the same event id, which consumers drop as a duplicate."""

    async def answer_wanted(self, event: AnswerWanted) -> None: ...

    async def answers_aggregated(self, event: AnswersAggregated) -> None: ...
