"""Scoring's handlers on the in-memory fakes: verdicts, reviews opened, idempotence, crashes,
watching."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

import pytest

from fairtask_runtime.clock import FakeClock
from fairtask_runtime.envelope import PoisonMessageError
from scoring.adapters.memory import (
    MemoryPorts,
    MemoryResultLog,
    MemoryReviewBook,
    MemoryScoredEvents,
)
from scoring.domain.errors import InvalidCursorError, TaskNotKnownError
from scoring.domain.events import SubmissionScored
from scoring.domain.model import Result, ResultEntry, Submission, TaskRecord, Verdict
from scoring.domain.reviews import Review, ReviewState
from scoring.service_layer.handlers import (
    RememberTask,
    ScoreSubmission,
    ScoringHandlers,
    WatchResults,
)

ORDINARY = TaskRecord("t-1", "p-1", "client-1", "label")
GOLD = TaskRecord("t-gold", "p-1", "client-gold", "label", gold_answer="Cat")


def _submission(task: TaskRecord, answer: bytes = b"cat", sid: str = "s-1") -> Submission:
    return Submission(
        submission_id=sid,
        task_id=task.task_id,
        worker_id="w-1",
        answer=answer,
        lease_id="l-1",
        region="ke",
        platform_id=task.platform_id,
        client_task_id=task.client_task_id,
        task_type=task.task_type,
        worked_seconds=50,
        effort_seconds=60,
        price_micros=400_000,
    )


async def _score(handlers: ScoringHandlers, task: TaskRecord, answer: bytes) -> Verdict:
    await handlers.remember_task(RememberTask(task))
    scored = await handlers.score_submission(ScoreSubmission(_submission(task, answer)))
    return scored.verdict


async def _released(ports: MemoryPorts, platform_id: str) -> list[ResultEntry]:
    return await ports.results.read(platform_id, "", 100, 0)


async def test_a_redelivered_task_changes_nothing(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    assert await handlers.remember_task(RememberTask(ORDINARY))
    changed = TaskRecord(ORDINARY.task_id, "p-2", "other", "other", gold_answer="x")
    assert not await handlers.remember_task(RememberTask(changed))
    assert await ports.tasks.get(ORDINARY.task_id) == ORDINARY


async def test_ordinary_work_waits_for_its_review_and_is_released_when_approved(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    await handlers.remember_task(RememberTask(ORDINARY))
    # The worker-side event names another platform: ownership comes from the task record.
    submission = replace(_submission(ORDINARY, b"a dog"), platform_id="someone-else")
    scored = await handlers.score_submission(ScoreSubmission(submission))

    assert (scored.verdict, scored.published, scored.review_opened) == (
        Verdict.ACCEPTED,
        True,
        True,
    )
    assert ports.events.published == [
        SubmissionScored(submission, Verdict.ACCEPTED, gold=False, scored_at=clock.now())
    ]
    [opened] = ports.review_events.published
    assert (opened.state, opened.platform_id, opened.paid) == (ReviewState.PENDING, "p-1", False)
    assert await _released(ports, "p-1") == []

    clock.advance(30)
    await handlers.reviews.approve("p-1", "s-1")
    [entry] = await _released(ports, "p-1")
    assert entry.result == Result(
        "s-1", "p-1", "t-1", "client-1", "label", "w-1", b"a dog", clock.now()
    )


@pytest.mark.parametrize(
    ("answer", "verdict"), [(b" CAT ", Verdict.GOLD_PASSED), (b"dog", Verdict.GOLD_FAILED)]
)
async def test_gold_work_is_approved_and_paid_at_once_but_never_released(
    handlers: ScoringHandlers, ports: MemoryPorts, answer: bytes, verdict: Verdict
) -> None:
    assert await _score(handlers, GOLD, answer) is verdict
    [event] = ports.events.published
    assert (event.verdict, event.gold) == (verdict, True)
    [review] = ports.review_events.published
    assert (review.state, review.automatic, review.paid) == (ReviewState.APPROVED, True, True)
    assert await _released(ports, "p-1") == []


async def test_scoring_the_same_submission_twice_publishes_and_opens_its_review_once(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await handlers.remember_task(RememberTask(ORDINARY))
    first = await handlers.score_submission(ScoreSubmission(_submission(ORDINARY)))
    again = await handlers.score_submission(ScoreSubmission(_submission(ORDINARY)))

    assert (first.published, first.review_opened) == (True, True)
    assert (again.verdict, again.published, again.review_opened) == (
        Verdict.ACCEPTED,
        False,
        False,
    )
    assert len(ports.events.published) == 1
    assert len(ports.review_events.published) == 1


async def test_an_unknown_task_is_a_retryable_error_with_no_effect(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    with pytest.raises(TaskNotKnownError) as raised:
        await handlers.score_submission(ScoreSubmission(_submission(ORDINARY)))
    # Retryable means: not a poison message, so the consumer backs off instead of DLQ-ing.
    assert not isinstance(raised.value, PoisonMessageError)
    assert ports.events.published == []
    assert not await ports.marks.is_scored("s-1")

    # Once the TaskSubmitted is consumed, the retry goes through.
    await handlers.remember_task(RememberTask(ORDINARY))
    scored = await handlers.score_submission(ScoreSubmission(_submission(ORDINARY)))
    assert scored.review_opened


class _CrashOnce:
    """Fails the first call, as a process dying at that point would."""

    def __init__(self) -> None:
        self.crashed = False

    def maybe_crash(self) -> None:
        if not self.crashed:
            self.crashed = True
            raise ConnectionError("process died here")


class _CrashingReviewBook(MemoryReviewBook, _CrashOnce):
    def __init__(self, results: MemoryResultLog) -> None:
        MemoryReviewBook.__init__(self, results)
        _CrashOnce.__init__(self)

    async def save(
        self, review: Review, expected: ReviewState | None, release: Result | None, now: datetime
    ) -> bool:
        self.maybe_crash()
        return await super().save(review, expected, release, now)


class _CrashingEvents(MemoryScoredEvents, _CrashOnce):
    def __init__(self) -> None:
        MemoryScoredEvents.__init__(self)
        _CrashOnce.__init__(self)

    async def publish(self, event: SubmissionScored) -> None:
        self.maybe_crash()
        await super().publish(event)


async def test_a_crash_between_publishing_and_opening_the_review_is_repaired_by_the_rerun(
    clock: FakeClock,
) -> None:
    ports = MemoryPorts()
    ports.reviews = _CrashingReviewBook(ports.results)
    handlers = ports.handlers(clock)
    await handlers.remember_task(RememberTask(ORDINARY))

    with pytest.raises(ConnectionError):
        await handlers.score_submission(ScoreSubmission(_submission(ORDINARY)))
    assert len(ports.events.published) == 1
    assert ports.reviews.reviews == {}

    rerun = await handlers.score_submission(ScoreSubmission(_submission(ORDINARY)))
    assert (rerun.published, rerun.review_opened) == (False, True)
    assert len(ports.events.published) == 1
    assert list(ports.reviews.reviews) == ["s-1"]


async def test_a_failed_publish_leaves_no_mark_so_the_rerun_publishes(clock: FakeClock) -> None:
    ports = MemoryPorts(events=_CrashingEvents())
    handlers = ports.handlers(clock)
    await handlers.remember_task(RememberTask(ORDINARY))

    with pytest.raises(ConnectionError):
        await handlers.score_submission(ScoreSubmission(_submission(ORDINARY)))
    assert not await ports.marks.is_scored("s-1")
    assert ports.reviews.reviews == {}

    rerun = await handlers.score_submission(ScoreSubmission(_submission(ORDINARY)))
    assert (rerun.published, rerun.review_opened) == (True, True)
    assert len(ports.events.published) == 1


async def _release_ordinary(handlers: ScoringHandlers, platform_id: str, n: int) -> None:
    for i in range(n):
        task = TaskRecord(f"{platform_id}-t{i}", platform_id, f"c{i}", "label")
        await handlers.remember_task(RememberTask(task))
        await handlers.score_submission(
            ScoreSubmission(_submission(task, answer=f"a{i}".encode(), sid=f"{platform_id}-s{i}"))
        )
        await handlers.reviews.approve(platform_id, f"{platform_id}-s{i}")


async def _take(results: AsyncIterator[ResultEntry], n: int) -> list[ResultEntry]:
    return [await asyncio.wait_for(anext(results), 2.0) for _ in range(n)]


async def test_watching_streams_only_the_callers_results_and_resumes_exactly(
    handlers: ScoringHandlers,
) -> None:
    await _release_ordinary(handlers, "p-1", 3)
    await _release_ordinary(handlers, "p-2", 2)

    watch = handlers.watch_results(WatchResults("p-1", ""))
    first = await _take(watch, 2)
    await watch.aclose()
    assert [e.result.client_task_id for e in first] == ["c0", "c1"]
    assert {e.result.platform_id for e in first} == {"p-1"}

    resumed = handlers.watch_results(WatchResults("p-1", first[-1].cursor))
    [rest] = await _take(resumed, 1)
    assert rest.result.client_task_id == "c2"
    # Nothing else for p-1: the watch keeps waiting instead of repeating or leaking p-2's.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(resumed), 0.3)


async def test_a_watch_delivers_results_released_while_it_waits(
    handlers: ScoringHandlers,
) -> None:
    watch = handlers.watch_results(WatchResults("p-1", ""))
    waiting = asyncio.create_task(_take(watch, 1))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await _release_ordinary(handlers, "p-1", 1)
    [entry] = await waiting
    assert entry.result.task_id == "p-1-t0"
    await watch.aclose()


async def test_a_malformed_cursor_is_refused_before_streaming(handlers: ScoringHandlers) -> None:
    with pytest.raises(InvalidCursorError):
        handlers.watch_results(WatchResults("p-1", "not-a-cursor"))
