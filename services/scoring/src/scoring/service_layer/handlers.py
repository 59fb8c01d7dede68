"""Scoring's use cases: remember tasks, score submissions (opening their review), stream
released results."""

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from fairtask_runtime.clock import Clock
from scoring.domain.cursor import parse_cursor
from scoring.domain.errors import TaskNotKnownError
from scoring.domain.events import SubmissionScored
from scoring.domain.model import ResultEntry, Submission, TaskRecord, Verdict
from scoring.domain.reviews import open_review
from scoring.domain.verdicts import verdict_for
from scoring.service_layer.overlap import AnswerGiven, OverlapHandlers
from scoring.service_layer.ports import ResultLog, ScoredEvents, ScoreMarks, TaskBook
from scoring.service_layer.quality import GoldResult, QualityHandlers
from scoring.service_layer.reviews import ReviewHandlers


@dataclass(frozen=True)
class RememberTask:
    task: TaskRecord


@dataclass(frozen=True)
class ScoreSubmission:
    submission: Submission


@dataclass(frozen=True)
class AnswerWithdrawn:
    """A further answer's copy was cancelled unanswered (TaskCancelled with `answer_of`)."""

    task_id: str  # the platform's task
    copy_id: str


@dataclass(frozen=True)
class Scored:
    """What scoring a submission did; `published` and `review_opened` are False on a re-run."""

    verdict: Verdict
    published: bool
    review_opened: bool


@dataclass(frozen=True)
class WatchResults:
    platform_id: str
    # Empty: from the start of the platform's log.
    cursor: str


@dataclass(frozen=True)
class WatchConfig:
    batch: int = 100
    # Bounded so a watch wakes up regularly instead of parking a Redis call indefinitely.
    block_s: float = 5.0


class ScoringHandlers:
    def __init__(
        self,
        tasks: TaskBook,
        marks: ScoreMarks,
        results: ResultLog,
        events: ScoredEvents,
        reviews: ReviewHandlers,
        quality: QualityHandlers,
        overlap: OverlapHandlers,
        clock: Clock,
        watch: WatchConfig | None = None,
    ) -> None:
        self._tasks = tasks
        self._marks = marks
        self._results = results
        self._events = events
        self.reviews = reviews
        self.quality = quality
        self.overlap = overlap
        self._clock = clock
        self._watch = watch or WatchConfig()

    async def remember_task(self, command: RememberTask) -> bool:
        """Idempotent: a redelivered TaskSubmitted changes nothing."""
        return await self._tasks.remember(command.task)

    async def score_submission(self, command: ScoreSubmission) -> Scored:
        """Publishes the verdict, then opens the submission's review: the platform decides,
        or the review deadline approves it; gold work is approved at once. Nothing is
        released or paid here. An answer to a task that several workers answer is then
        recorded with the others, which asks for one more or settles the aggregate.

        Safe to re-run after a crash at any point: the verdict is a pure function of the task
        and the answer, the scored mark skips a second publish, a review is opened once per
        submission_id and an answer is recorded once per worker and task. Raises
        TaskNotKnownError (retryable) when the task, or for a copy the platform's task it
        answers, has not been consumed yet.
        """
        submission = command.submission
        task = await self._tasks.get(submission.task_id)
        if task is None:
            raise TaskNotKnownError(submission.task_id)
        platform_task = await self._platform_task(task)
        verdict = verdict_for(task, submission.answer)
        now = self._clock.now()
        published = False
        if not await self._marks.is_scored(submission.submission_id):
            await self._events.publish(SubmissionScored(submission, verdict, task.is_gold, now))
            # A crash right here publishes the event again on the re-run; consumers are
            # idempotent on submission_id, so that duplicate costs nothing but a message.
            await self._marks.mark_scored(submission.submission_id, verdict)
            published = True
        if task.is_gold:
            # Counted once per submission, announced if it moves the worker across the bar.
            await self.quality.gold_scored(
                GoldResult(
                    submission.submission_id,
                    submission.worker_id,
                    task.platform_id,
                    task.task_type,
                    passed=verdict is Verdict.GOLD_PASSED,
                )
            )
        policy = platform_task.overlap if not task.is_gold else None
        review = open_review(
            submission_id=submission.submission_id,
            # Ownership comes from the task record, which scoring took from the platform's
            # own submission, not from the worker-side event. A copy keeps its own task id
            # (its escrow is held and paid under it); its result names the platform's task.
            task_id=task.task_id,
            client_task_id=platform_task.client_task_id,
            platform_id=platform_task.platform_id,
            task_type=task.task_type,
            worker_id=submission.worker_id,
            region=submission.region,
            price_micros=submission.price_micros,
            worked_seconds=submission.worked_seconds,
            answer=submission.answer,
            gold=task.is_gold,
            now=now,
            rules=self.reviews.rules,
            overlap_task_id=platform_task.task_id if policy is not None else "",
        )
        opened = await self.reviews.open(review)
        if policy is not None:
            # After the review is open: each answer is reviewed and paid on its own, whatever
            # the aggregate makes of it.
            await self.overlap.answered(
                AnswerGiven(
                    task=platform_task,
                    policy=policy,
                    worker_id=submission.worker_id,
                    answer=submission.answer,
                    submission_id=submission.submission_id,
                    answer_number=task.answer_position,
                )
            )
        return Scored(verdict, published, opened)

    async def answer_withdrawn(self, command: AnswerWithdrawn) -> None:
        """Settles the task with the answers it has if it waited for the withdrawn one; a
        no-op for a task scoring never recorded an answer to. Idempotent."""
        task = await self._tasks.get(command.task_id)
        # Unknown: no answer to it was scored, so no sheet waits (its answers would wait for
        # the task themselves).
        if task is None or task.overlap is None or task.is_gold:
            return
        await self.overlap.answer_withdrawn(task, task.overlap, command.copy_id)

    async def _platform_task(self, task: TaskRecord) -> TaskRecord:
        """The platform's own task behind a copy (the task itself otherwise): it carries the
        overlap policy and names the aggregate."""
        if not task.answer_of:
            return task
        platform_task = await self._tasks.get(task.answer_of)
        if platform_task is None:
            raise TaskNotKnownError(task.answer_of)
        return platform_task

    def watch_results(self, query: WatchResults) -> AsyncGenerator[ResultEntry, None]:
        """The platform's released results after the cursor, then new ones as they come,
        until the caller stops iterating. Raises InvalidCursorError here, before streaming."""
        if query.cursor:
            parse_cursor(query.cursor)
        return self._follow(query.platform_id, query.cursor)

    async def _follow(self, platform_id: str, cursor: str) -> AsyncGenerator[ResultEntry, None]:
        while True:
            # Blocks up to block_s; cancelling the caller (client gone) interrupts it here.
            entries = await self._results.read(
                platform_id, cursor, self._watch.batch, self._watch.block_s
            )
            for entry in entries:
                yield entry
                cursor = entry.cursor
