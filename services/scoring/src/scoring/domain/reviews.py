"""A submission's review: the platform approves or rejects with a reason, the worker may appeal.

Rejection is a dispute, not a verdict. Every state change is a pure function here that checks
its rules and returns the review as it stands after it; the service layer stores it and
announces it. Deadlines decide when people do not: work not reviewed by `review_due` is
approved, an appeal not answered by `appeal_due` is granted.
"""

import enum
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from scoring.domain.errors import ReviewConflictError, ReviewRuleError

MIN_EXPLANATION_CHARS = 100
MAX_TEXT_CHARS = 4000


class ReviewState(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPEALED = "appealed"
    APPEAL_GRANTED = "appeal_granted"
    APPEAL_UPHELD = "appeal_upheld"


class RejectionReason(enum.Enum):
    INSTRUCTIONS_NOT_FOLLOWED = "instructions_not_followed"
    WRONG_ANSWER = "wrong_answer"
    INCOMPLETE = "incomplete"
    NONSENSE = "nonsense"
    COPIED = "copied"


# A page of reviews continues after the key of the last one it held.
PAGE_KEY = re.compile(r"[0-9]{15}\|[^\x00]{1,300}")


def page_key(moment: datetime | None, submission_id: str) -> str:
    """Where a review sorts in a list: by a moment of its life, then by id. Fixed width, so
    the string order is the time order."""
    millis = int(moment.timestamp() * 1000) if moment else 0
    return f"{millis:015d}|{submission_id}"


# States that wait for someone (the platform) before a deadline.
OPEN_STATES = frozenset({ReviewState.PENDING, ReviewState.APPEALED})


@dataclass(frozen=True)
class ReviewRules:
    review_window: timedelta = timedelta(hours=72)
    appeal_window: timedelta = timedelta(days=7)
    appeal_answer_window: timedelta = timedelta(hours=72)


@dataclass(frozen=True)
class Review:
    submission_id: str
    task_id: str
    client_task_id: str
    platform_id: str
    task_type: str
    worker_id: str
    region: str
    price_micros: int
    worked_seconds: int
    answer: bytes
    gold: bool
    state: ReviewState
    scored_at: datetime
    review_due: datetime
    automatic: bool = False
    decided_at: datetime | None = None
    reason: RejectionReason | None = None
    explanation: str = ""
    result_kept: bool = False
    appeal_until: datetime | None = None
    appeal_statement: str = ""
    appealed_at: datetime | None = None
    appeal_due: datetime | None = None
    appeal_answer: str = ""
    appeal_answered_at: datetime | None = None
    # Set when several workers answer the task: the platform's task this answer is one of
    # several to (task_id stays the copy's own id, which escrow is held and paid per). The
    # released result names the platform's task, and its release may release the aggregate.
    overlap_task_id: str = ""

    @property
    def result_task_id(self) -> str:
        """The task id the platform sees on the released result: its own task's."""
        return self.overlap_task_id or self.task_id

    @property
    def paid(self) -> bool:
        """The worker is owed the price: the work was approved, or the platform keeps it."""
        return self.state in (ReviewState.APPROVED, ReviewState.APPEAL_GRANTED) or self.result_kept

    @property
    def releases_result(self) -> bool:
        """The platform gets the result as data exactly when it pays for it; gold answers it
        already knows."""
        return self.paid and not self.gold

    @property
    def due(self) -> datetime | None:
        """When a deadline decides this review, if it is waiting for the platform."""
        if self.state is ReviewState.PENDING:
            return self.review_due
        if self.state is ReviewState.APPEALED:
            return self.appeal_due
        return None


def open_review(
    *,
    submission_id: str,
    task_id: str,
    client_task_id: str,
    platform_id: str,
    task_type: str,
    worker_id: str,
    region: str,
    price_micros: int,
    worked_seconds: int,
    answer: bytes,
    gold: bool,
    now: datetime,
    rules: ReviewRules,
    overlap_task_id: str = "",
) -> Review:
    """A new review. Gold work is checked by scoring against its known answer, not by the
    platform, so it is approved at once; a failed gold answer lowers the worker's quality
    estimate, never their pay."""
    review = Review(
        submission_id=submission_id,
        task_id=task_id,
        client_task_id=client_task_id,
        platform_id=platform_id,
        task_type=task_type,
        worker_id=worker_id,
        region=region,
        price_micros=price_micros,
        worked_seconds=worked_seconds,
        answer=answer,
        gold=gold,
        state=ReviewState.PENDING,
        scored_at=now,
        review_due=now + rules.review_window,
        overlap_task_id=overlap_task_id,
    )
    if gold:
        return replace(review, state=ReviewState.APPROVED, automatic=True, decided_at=now)
    return review


def approve(review: Review, now: datetime) -> Review:
    _require_state(review, ReviewState.PENDING, "approve")
    return replace(review, state=ReviewState.APPROVED, automatic=False, decided_at=now)


def reject(
    review: Review,
    reason: RejectionReason | None,
    explanation: str,
    keep_result: bool,
    now: datetime,
    rules: ReviewRules,
) -> Review:
    if reason is None:
        raise ReviewRuleError("reason", "a rejection needs a reason from the list")
    text = _explanation(explanation, "explanation", required=True)
    _require_state(review, ReviewState.PENDING, "reject")
    return replace(
        review,
        state=ReviewState.REJECTED,
        automatic=False,
        decided_at=now,
        reason=reason,
        explanation=text,
        result_kept=keep_result,
        appeal_until=now + rules.appeal_window,
    )


def appeal(review: Review, statement: str, now: datetime, rules: ReviewRules) -> Review:
    text = statement.strip()
    if not text:
        raise ReviewRuleError("statement", "say why the rejection is wrong")
    if len(text) > MAX_TEXT_CHARS:
        raise ReviewRuleError("statement", f"at most {MAX_TEXT_CHARS} characters")
    _require_state(review, ReviewState.REJECTED, "appeal")
    if review.appeal_until is None or now > review.appeal_until:
        raise ReviewConflictError(
            "the appeal window closed at "
            + (review.appeal_until.isoformat() if review.appeal_until else "the rejection")
        )
    return replace(
        review,
        state=ReviewState.APPEALED,
        appeal_statement=text,
        appealed_at=now,
        appeal_due=now + rules.appeal_answer_window,
    )


def answer_appeal(review: Review, grant: bool, explanation: str, now: datetime) -> Review:
    text = _explanation(explanation, "explanation", required=not grant)
    _require_state(review, ReviewState.APPEALED, "answer the appeal of")
    state = ReviewState.APPEAL_GRANTED if grant else ReviewState.APPEAL_UPHELD
    return replace(review, state=state, automatic=False, appeal_answer=text, appeal_answered_at=now)


def decide_by_deadline(review: Review, now: datetime) -> Review | None:
    """What the deadline decides at `now`: pending work is approved, an unanswered appeal is
    granted. None when no deadline has passed."""
    due = review.due
    if due is None or now < due:
        return None
    if review.state is ReviewState.PENDING:
        return replace(review, state=ReviewState.APPROVED, automatic=True, decided_at=now)
    return replace(
        review,
        state=ReviewState.APPEAL_GRANTED,
        automatic=True,
        appeal_answer="The platform did not answer the appeal in time, so it is granted.",
        appeal_answered_at=now,
    )


def _require_state(review: Review, wanted: ReviewState, action: str) -> None:
    if review.state is not wanted:
        raise ReviewConflictError(
            f"cannot {action} a submission whose review is {review.state.value}"
        )


def _explanation(text: str, field: str, required: bool) -> str:
    stripped = text.strip()
    if required and len(stripped) < MIN_EXPLANATION_CHARS:
        raise ReviewRuleError(
            field,
            f"explain in at least {MIN_EXPLANATION_CHARS} characters (got {len(stripped)})",
        )
    if len(stripped) > MAX_TEXT_CHARS:
        raise ReviewRuleError(field, f"at most {MAX_TEXT_CHARS} characters")
    return stripped
