"""Reviews on the in-memory fakes: reasons, appeals, deadlines, ownership, announcements."""

from datetime import timedelta

import pytest

from fairtask_runtime.clock import FakeClock
from scoring.adapters.memory import MemoryPorts
from scoring.domain.errors import ReviewConflictError, ReviewNotFoundError, ReviewRuleError
from scoring.domain.model import Submission, TaskRecord
from scoring.domain.reviews import RejectionReason, ReviewRules, ReviewState
from scoring.service_layer.handlers import RememberTask, ScoreSubmission, ScoringHandlers

WHY = (
    "The label says 'cat' but the picture shows a dog: the ears, the muzzle and the collar tag "
    "all say so, and the instructions ask for the animal in the foreground."
)
RULES = ReviewRules(
    review_window=timedelta(hours=72),
    appeal_window=timedelta(days=7),
    appeal_answer_window=timedelta(hours=72),
)


@pytest.fixture
def handlers(ports: MemoryPorts, clock: FakeClock) -> ScoringHandlers:
    return ports.handlers(clock, rules=RULES)


async def _scored(handlers: ScoringHandlers, sid: str = "s-1", platform: str = "p-1") -> None:
    task = TaskRecord(f"t-{sid}", platform, f"c-{sid}", "label")
    await handlers.remember_task(RememberTask(task))
    submission = Submission(
        sid, task.task_id, "w-1", b"cat", region="ke", price_micros=400_000, worked_seconds=60
    )
    await handlers.score_submission(ScoreSubmission(submission))


async def _released(ports: MemoryPorts, platform: str = "p-1") -> list[str]:
    return [e.result.submission_id for e in await ports.results.read(platform, "", 100, 0)]


@pytest.mark.parametrize(
    ("reason", "explanation", "field"),
    [
        (None, WHY, "reason"),
        (RejectionReason.WRONG_ANSWER, "", "explanation"),
        (RejectionReason.WRONG_ANSWER, "x" * 99, "explanation"),
        # Padding does not count towards the 100 characters.
        (RejectionReason.WRONG_ANSWER, " " * 60 + "y" * 60, "explanation"),
        (RejectionReason.WRONG_ANSWER, "z" * 4001, "explanation"),
    ],
)
async def test_a_rejection_needs_a_reason_and_a_real_explanation(
    handlers: ScoringHandlers,
    ports: MemoryPorts,
    reason: RejectionReason | None,
    explanation: str,
    field: str,
) -> None:
    await _scored(handlers)
    before = await ports.reviews.get("s-1")
    with pytest.raises(ReviewRuleError) as refused:
        await handlers.reviews.reject("p-1", "s-1", reason, explanation, keep_result=False)
    assert refused.value.field == field
    assert await ports.reviews.get("s-1") == before


async def test_a_rejected_result_is_withheld_unpaid_and_open_to_appeal_for_seven_days(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    await _scored(handlers)
    review = await handlers.reviews.reject(
        "p-1", "s-1", RejectionReason.WRONG_ANSWER, WHY, keep_result=False
    )
    assert (review.state, review.paid, review.reason) == (
        ReviewState.REJECTED,
        False,
        RejectionReason.WRONG_ANSWER,
    )
    assert review.appeal_until == clock.now() + timedelta(days=7)
    assert await _released(ports) == []
    assert ports.review_events.published[-1] == review
    # Decided: a second decision is refused.
    with pytest.raises(ReviewConflictError):
        await handlers.reviews.approve("p-1", "s-1")


async def test_a_platform_that_keeps_rejected_work_pays_for_it_and_gets_it(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _scored(handlers)
    review = await handlers.reviews.reject(
        "p-1", "s-1", RejectionReason.INCOMPLETE, WHY, keep_result=True
    )
    assert (review.state, review.paid, review.result_kept) == (ReviewState.REJECTED, True, True)
    assert await _released(ports) == ["s-1"]


async def test_another_platform_cannot_see_or_decide_the_review(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _scored(handlers)
    with pytest.raises(ReviewNotFoundError):
        await handlers.reviews.approve("p-2", "s-1")
    with pytest.raises(ReviewNotFoundError):
        await handlers.reviews.reject("p-2", "s-1", RejectionReason.COPIED, WHY, False)
    assert (await handlers.reviews.pending("p-2", "", 0)).reviews == []
    assert [r.submission_id for r in (await handlers.reviews.pending("p-1", "", 0)).reviews] == [
        "s-1"
    ]
    assert (await ports.reviews.get("s-1")).state is ReviewState.PENDING  # type: ignore[union-attr]


async def test_an_appeal_the_platform_grants_pays_and_releases(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    await _scored(handlers)
    await handlers.reviews.reject("p-1", "s-1", RejectionReason.WRONG_ANSWER, WHY, False)
    clock.advance(3600)
    appealed = await handlers.reviews.appeal("w-1", "s-1", "  It is a cat: see the whiskers.  ")
    assert (appealed.state, appealed.appeal_statement) == (
        ReviewState.APPEALED,
        "It is a cat: see the whiskers.",
    )
    assert appealed.appeal_due == clock.now() + timedelta(hours=72)
    assert [
        r.submission_id for r in (await handlers.reviews.open_appeals("p-1", "", 0)).reviews
    ] == ["s-1"]

    granted = await handlers.reviews.answer_appeal("p-1", "s-1", grant=True, explanation="")
    assert (granted.state, granted.paid, granted.automatic) == (
        ReviewState.APPEAL_GRANTED,
        True,
        False,
    )
    assert await _released(ports) == ["s-1"]
    assert (await handlers.reviews.open_appeals("p-1", "", 0)).reviews == []


async def test_upholding_an_appeal_needs_an_explanation_and_keeps_the_data_withheld(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _scored(handlers)
    await handlers.reviews.reject("p-1", "s-1", RejectionReason.WRONG_ANSWER, WHY, False)
    await handlers.reviews.appeal("w-1", "s-1", "It is a cat.")
    with pytest.raises(ReviewRuleError) as refused:
        await handlers.reviews.answer_appeal("p-1", "s-1", grant=False, explanation="no")
    assert refused.value.field == "explanation"

    upheld = await handlers.reviews.answer_appeal("p-1", "s-1", grant=False, explanation=WHY)
    assert (upheld.state, upheld.paid, upheld.appeal_answer) == (
        ReviewState.APPEAL_UPHELD,
        False,
        WHY,
    )
    assert await _released(ports) == []
    with pytest.raises(ReviewConflictError):
        await handlers.reviews.appeal("w-1", "s-1", "Again.")


async def test_only_the_worker_may_appeal_and_only_within_the_window(
    handlers: ScoringHandlers, clock: FakeClock
) -> None:
    await _scored(handlers)
    with pytest.raises(ReviewConflictError):  # nothing to appeal yet
        await handlers.reviews.appeal("w-1", "s-1", "Why?")
    await handlers.reviews.reject("p-1", "s-1", RejectionReason.NONSENSE, WHY, False)
    with pytest.raises(ReviewNotFoundError):
        await handlers.reviews.appeal("w-2", "s-1", "Not mine, but still.")
    with pytest.raises(ReviewRuleError):
        await handlers.reviews.appeal("w-1", "s-1", "   ")
    clock.advance(7 * 24 * 3600 + 1)
    with pytest.raises(ReviewConflictError, match="appeal window closed"):
        await handlers.reviews.appeal("w-1", "s-1", "Too late?")


async def test_deadlines_approve_unreviewed_work_and_grant_unanswered_appeals(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    await _scored(handlers, "s-1")
    await _scored(handlers, "s-2")
    await handlers.reviews.reject("p-1", "s-2", RejectionReason.COPIED, WHY, False)
    await handlers.reviews.appeal("w-1", "s-2", "I wrote it myself.")

    clock.advance(72 * 3600 - 1)
    assert await handlers.reviews.sweep() == 0
    assert (await ports.reviews.get("s-1")).state is ReviewState.PENDING  # type: ignore[union-attr]

    clock.advance(1)
    assert await handlers.reviews.sweep() == 2
    approved = await ports.reviews.get("s-1")
    granted = await ports.reviews.get("s-2")
    assert approved is not None
    assert granted is not None
    assert (approved.state, approved.automatic, approved.paid) == (
        ReviewState.APPROVED,
        True,
        True,
    )
    assert (granted.state, granted.automatic, granted.paid) == (
        ReviewState.APPEAL_GRANTED,
        True,
        True,
    )
    assert sorted(await _released(ports)) == ["s-1", "s-2"]
    # Nothing is decided twice.
    assert await handlers.reviews.sweep() == 0


async def test_a_step_whose_announcement_failed_is_announced_by_the_sweep(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    await _scored(handlers)
    ports.review_events.failing = True
    review = await handlers.reviews.approve("p-1", "s-1")  # stored, not announced
    assert ports.review_events.published[-1].state is ReviewState.PENDING
    ports.review_events.failing = False

    assert await handlers.reviews.sweep() == 0  # not stale yet: the call may still publish
    clock.advance(11)
    assert await handlers.reviews.sweep() == 1
    assert ports.review_events.published[-1] == review
    assert ports.reviews.outbox == {}


async def test_a_worker_sees_their_own_reviews_newest_first_page_by_page(
    handlers: ScoringHandlers, clock: FakeClock
) -> None:
    for i in range(5):
        await _scored(handlers, f"s-{i}")
        clock.advance(1)
    first = await handlers.reviews.of_worker("w-1", "", 2)
    assert [r.submission_id for r in first.reviews] == ["s-4", "s-3"]
    second = await handlers.reviews.of_worker("w-1", first.next_token, 2)
    third = await handlers.reviews.of_worker("w-1", second.next_token, 2)
    assert [r.submission_id for r in second.reviews + third.reviews] == ["s-2", "s-1", "s-0"]
    assert third.next_token == ""
    assert (await handlers.reviews.of_worker("w-2", "", 10)).reviews == []
    with pytest.raises(ReviewRuleError):
        await handlers.reviews.of_worker("w-1", "garbage", 2)


async def test_a_platform_past_its_deadline_is_too_late_even_before_the_sweep(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    await _scored(handlers, "s-1")
    await _scored(handlers, "s-2")
    await handlers.reviews.reject("p-1", "s-2", RejectionReason.WRONG_ANSWER, WHY, False)
    await handlers.reviews.appeal("w-1", "s-2", "It was right.")
    clock.advance(72 * 3600)
    with pytest.raises(ReviewConflictError, match="approved automatically"):
        await handlers.reviews.reject("p-1", "s-1", RejectionReason.WRONG_ANSWER, WHY, False)
    with pytest.raises(ReviewConflictError, match="appeal_granted automatically"):
        await handlers.reviews.answer_appeal("p-1", "s-2", grant=False, explanation=WHY)
    assert (await ports.reviews.get("s-1")).paid  # type: ignore[union-attr]
    assert (await ports.reviews.get("s-2")).paid  # type: ignore[union-attr]
    assert sorted(await _released(ports)) == ["s-1", "s-2"]
