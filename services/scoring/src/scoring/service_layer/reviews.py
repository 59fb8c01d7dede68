"""Reviews: platforms decide, workers appeal, deadlines decide for whoever is late.

Each step is stored first (one atomic write that also releases a paid-for result and queues
the announcement), then announced on Kafka. A step whose announcement failed stays queued and
`sweep` announces it again; its event id is derived from the step, so a second announcement
is a duplicate that consumers drop.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from fairtask_runtime.clock import Clock
from scoring import metrics
from scoring.domain.errors import ReviewConflictError, ReviewNotFoundError, ReviewRuleError
from scoring.domain.model import Result
from scoring.domain.reviews import (
    PAGE_KEY,
    RejectionReason,
    Review,
    ReviewRules,
    ReviewState,
    answer_appeal,
    appeal,
    approve,
    decide_by_deadline,
    page_key,
    reject,
)
from scoring.service_layer.ports import ReviewBook, ReviewEvents

log = structlog.get_logger(__name__)

MAX_PAGE = 500
DEFAULT_PAGE = 100


@dataclass(frozen=True)
class Page:
    reviews: list[Review]
    next_token: str


@dataclass(frozen=True)
class SweepConfig:
    batch: int = 200
    # A step still queued this long after it was stored lost its announcement to a failure.
    announce_retry_after: timedelta = timedelta(seconds=10)


class ReviewHandlers:
    def __init__(
        self,
        book: ReviewBook,
        events: ReviewEvents,
        clock: Clock,
        rules: ReviewRules,
        sweep: SweepConfig | None = None,
        answer_released: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._book = book
        self._events = events
        self._clock = clock
        self.rules = rules
        self._sweep = sweep or SweepConfig()
        # Told the platform task id when one of its several answers is released, so the
        # aggregate can follow the last of them.
        self._answer_released = answer_released

    async def open(self, review: Review) -> bool:
        """Stores a new review (a no-op when this submission has one) and announces it."""
        release = _release(review)
        if not await self._book.save(review, None, release, self._clock.now()):
            return False
        _count(review, release)
        await self._after_release(review, release)
        await self._announce(review)
        return True

    async def pending(self, platform_id: str, token: str, size: int) -> Page:
        found = await self._book.pending(platform_id, _token(token), _size(size))
        return _page(found, size, lambda r: r.scored_at)

    async def open_appeals(self, platform_id: str, token: str, size: int) -> Page:
        found = await self._book.open_appeals(platform_id, _token(token), _size(size))
        return _page(found, size, lambda r: r.appealed_at)

    async def of_worker(self, worker_id: str, token: str, size: int) -> Page:
        found = await self._book.of_worker(worker_id, _token(token), _size(size))
        return _page(found, size, lambda r: r.scored_at)

    async def approve(self, platform_id: str, submission_id: str) -> Review:
        review = await self._in_time(await self._platforms(platform_id, submission_id))
        return await self._change(review, approve(review, self._clock.now()))

    async def reject(
        self,
        platform_id: str,
        submission_id: str,
        reason: RejectionReason | None,
        explanation: str,
        keep_result: bool,
    ) -> Review:
        review = await self._in_time(await self._platforms(platform_id, submission_id))
        now = self._clock.now()
        return await self._change(
            review, reject(review, reason, explanation, keep_result, now, self.rules)
        )

    async def answer_appeal(
        self, platform_id: str, submission_id: str, grant: bool, explanation: str
    ) -> Review:
        review = await self._in_time(await self._platforms(platform_id, submission_id))
        return await self._change(
            review, answer_appeal(review, grant, explanation, self._clock.now())
        )

    async def appeal(self, worker_id: str, submission_id: str, statement: str) -> Review:
        review = await self._book.get(submission_id)
        if review is None or review.worker_id != worker_id:
            raise ReviewNotFoundError(submission_id)
        return await self._change(review, appeal(review, statement, self._clock.now(), self.rules))

    async def sweep(self) -> int:
        """Lets the deadlines decide what is due, and announces steps whose announcement
        failed. Safe in every replica at once: each change is stored only from the state it
        was decided from. Returns how many steps it took or announced."""
        now = self._clock.now()
        done = 0
        for submission_id in await self._book.due(now, self._sweep.batch):
            review = await self._book.get(submission_id)
            decided = decide_by_deadline(review, now) if review else None
            if review is None or decided is None:
                continue
            try:
                await self._change(review, decided)
                done += 1
            except ReviewConflictError:
                continue  # another replica or a person decided it meanwhile
        stale = now - self._sweep.announce_retry_after
        for submission_id, state in await self._book.unannounced(stale, self._sweep.batch):
            review = await self._book.get(submission_id)
            if review is None:
                continue
            if review.state.value != state:
                # A later step superseded this one; its own announcement says more.
                await self._book.announced(submission_id, ReviewState(state))
                continue
            await self._announce(review)
            done += 1
        pending, appeals = await self._book.counts()
        metrics.OPEN_REVIEWS.set(pending)
        metrics.OPEN_APPEALS.set(appeals)
        return done

    async def _in_time(self, review: Review) -> Review:
        """A platform acting after its deadline is too late even if no sweep ran yet: the
        deadline's decision is stored now and the platform's refused."""
        decided = decide_by_deadline(review, self._clock.now())
        if decided is None:
            return review
        await self._change(review, decided)
        raise ReviewConflictError(
            f"the deadline passed: the review is {decided.state.value} automatically"
        )

    async def _platforms(self, platform_id: str, submission_id: str) -> Review:
        """The review, if it is of the platform's own task: another platform's is as unknown
        as one that does not exist, so its existence leaks nothing."""
        if not submission_id:
            raise ReviewRuleError("submission_id", "name the submission")
        review = await self._book.get(submission_id)
        if review is None or review.platform_id != platform_id:
            raise ReviewNotFoundError(submission_id)
        return review

    async def _change(self, before: Review, after: Review) -> Review:
        release = _release(after) if not before.releases_result else None
        if not await self._book.save(after, before.state, release, self._clock.now()):
            raise ReviewConflictError("the review changed meanwhile; read it again")
        _count(after, release)
        await self._after_release(after, release)
        await self._announce(after)
        return after

    async def _after_release(self, review: Review, release: Result | None) -> None:
        if release is None or not review.overlap_task_id or self._answer_released is None:
            return
        try:
            await self._answer_released(review.overlap_task_id)
        except Exception as error:
            # The review step is stored and must not look failed to the caller: the overlap
            # sweep checks settled aggregates waiting for their answers and releases it then.
            log.warning(
                "aggregate release not tried yet",
                task_id=review.overlap_task_id,
                error=str(error),
            )

    async def _announce(self, review: Review) -> None:
        try:
            await self._events.publish(review)
        except Exception as error:
            log.warning(
                "review step not announced yet",
                submission_id=review.submission_id,
                state=review.state.value,
                error=str(error),
            )
            return
        await self._book.announced(review.submission_id, review.state)


def _count(review: Review, release: Result | None) -> None:
    metrics.record_review_step(review)
    if release is not None:
        metrics.RESULTS_RELEASED.inc()


def _release(review: Review) -> Result | None:
    if not review.releases_result:
        return None
    return Result(
        submission_id=review.submission_id,
        platform_id=review.platform_id,
        # One of several answers names the platform's task, not the copy it came through.
        task_id=review.result_task_id,
        client_task_id=review.client_task_id,
        task_type=review.task_type,
        worker_id=review.worker_id,
        answer=review.answer,
        released_at=review.appeal_answered_at or review.decided_at or review.scored_at,
    )


def _size(size: int) -> int:
    if size < 0:
        raise ReviewRuleError("page_size", "must not be negative")
    return min(size or DEFAULT_PAGE, MAX_PAGE)


def _token(token: str) -> str:
    if token and not PAGE_KEY.fullmatch(token):
        raise ReviewRuleError("page_token", "is not a token this service returned")
    return token


def _page(found: list[Review], size: int, moment: Callable[[Review], datetime | None]) -> Page:
    """A full page may have a next one; its token is the last review's key."""
    if not found or len(found) < _size(size):
        return Page(found, "")
    last = found[-1]
    return Page(found, page_key(moment(last), last.submission_id))
