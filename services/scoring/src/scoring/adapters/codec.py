"""Translation between scoring's domain objects and protobuf."""

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from fairtask.v1 import events_pb2, scoring_pb2
from fairtask_runtime.answers import MAX_ANSWERS
from scoring.domain.events import (
    AnswersAggregated,
    AnswerWanted,
    EligibilityChange,
    SubmissionScored,
)
from scoring.domain.model import ResultEntry, Submission, TaskRecord, Verdict
from scoring.domain.overlap import OverlapPolicy
from scoring.domain.reviews import RejectionReason, Review, ReviewState

_VERDICTS = {
    Verdict.ACCEPTED: events_pb2.VERDICT_ACCEPTED,
    Verdict.GOLD_PASSED: events_pb2.VERDICT_GOLD_PASSED,
    Verdict.GOLD_FAILED: events_pb2.VERDICT_GOLD_FAILED,
}


_STATES = {
    ReviewState.PENDING: events_pb2.REVIEW_STATE_PENDING,
    ReviewState.APPROVED: events_pb2.REVIEW_STATE_APPROVED,
    ReviewState.REJECTED: events_pb2.REVIEW_STATE_REJECTED,
    ReviewState.APPEALED: events_pb2.REVIEW_STATE_APPEALED,
    ReviewState.APPEAL_GRANTED: events_pb2.REVIEW_STATE_APPEAL_GRANTED,
    ReviewState.APPEAL_UPHELD: events_pb2.REVIEW_STATE_APPEAL_UPHELD,
}

_REASONS = {
    RejectionReason.INSTRUCTIONS_NOT_FOLLOWED: (
        events_pb2.REJECTION_REASON_INSTRUCTIONS_NOT_FOLLOWED
    ),
    RejectionReason.WRONG_ANSWER: events_pb2.REJECTION_REASON_WRONG_ANSWER,
    RejectionReason.INCOMPLETE: events_pb2.REJECTION_REASON_INCOMPLETE,
    RejectionReason.NONSENSE: events_pb2.REJECTION_REASON_NONSENSE,
    RejectionReason.COPIED: events_pb2.REJECTION_REASON_COPIED,
}
_REASONS_BY_PB: dict[int, RejectionReason] = {int(n): r for r, n in _REASONS.items()}


def reason_from_pb(number: int) -> RejectionReason | None:
    """None for UNSPECIFIED or a number this version does not know."""
    return _REASONS_BY_PB.get(number)


def to_timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def from_timestamp(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def task_from_pb(message: events_pb2.TaskSubmitted) -> TaskRecord:
    """Raises ValueError for an overlap no policy can follow (a confidence target outside
    [0.5, 1)). A gold task never overlaps: its overlap is dropped."""
    gold = message.gold_answer
    return TaskRecord(
        task_id=message.task_id,
        platform_id=message.platform_id,
        client_task_id=message.client_task_id,
        task_type=message.task_type,
        gold_answer=gold,
        overlap=overlap_from_pb(message.overlap)
        if message.HasField("overlap") and not gold
        else None,
        answer_of=message.answer_of,
        answer_number=message.answer_number,
    )


def overlap_from_pb(overlap: events_pb2.Overlap) -> OverlapPolicy:
    """Unset counts read as their least (one answer, two classes), and no task asks for
    more answers than there are copy ids (MAX_ANSWERS)."""
    max_answers = min(max(overlap.max_answers, overlap.min_answers, 1), MAX_ANSWERS)
    return OverlapPolicy(
        min_answers=min(max(overlap.min_answers, 1), max_answers),
        max_answers=max_answers,
        confidence_target=overlap.confidence_target,
        answer_classes=max(overlap.answer_classes, 2),
    )


def submission_from_pb(message: events_pb2.SubmissionReceived) -> Submission:
    return Submission(
        submission_id=message.submission_id,
        task_id=message.task_id,
        worker_id=message.worker_id,
        answer=message.answer,
        lease_id=message.lease_id,
        region=message.region,
        platform_id=message.platform_id,
        client_task_id=message.client_task_id,
        task_type=message.task_type,
        worked_seconds=message.worked_seconds,
        effort_seconds=message.effort_seconds,
        price_micros=message.price_micros,
        submitted_at=(
            from_timestamp(message.submitted_at) if message.HasField("submitted_at") else None
        ),
    )


def scored_to_pb(event: SubmissionScored) -> events_pb2.SubmissionScored:
    s = event.submission
    return events_pb2.SubmissionScored(
        submission_id=s.submission_id,
        task_id=s.task_id,
        worker_id=s.worker_id,
        region=s.region,
        platform_id=s.platform_id,
        task_type=s.task_type,
        verdict=_VERDICTS[event.verdict],
        gold=event.gold,
        price_micros=s.price_micros,
        worked_seconds=s.worked_seconds,
        scored_at=to_timestamp(event.scored_at),
    )


def entry_to_pb(entry: ResultEntry) -> scoring_pb2.WatchResultsResponse:
    r = entry.result
    return scoring_pb2.WatchResultsResponse(
        cursor=entry.cursor,
        task_id=r.task_id,
        client_task_id=r.client_task_id,
        task_type=r.task_type,
        answer=r.answer,
        worker_id=r.worker_id,
        released_at=to_timestamp(r.released_at),
        aggregate=r.aggregate,
        confidence=r.confidence,
        answers=r.answers,
        confident=r.confident,
    )


def answer_wanted_to_pb(event: AnswerWanted) -> events_pb2.AnswerWanted:
    return events_pb2.AnswerWanted(
        task_id=event.task_id,
        platform_id=event.platform_id,
        answer_number=event.answer_number,
        answer_task_id=event.answer_task_id,
        answered_by=list(event.answered_by),
    )


def answers_aggregated_to_pb(event: AnswersAggregated) -> events_pb2.AnswersAggregated:
    return events_pb2.AnswersAggregated(
        task_id=event.task_id,
        platform_id=event.platform_id,
        client_task_id=event.client_task_id,
        task_type=event.task_type,
        answer=event.answer,
        confidence=event.confidence,
        answers=event.answers,
        confident=event.confident,
        submission_ids=list(event.submission_ids),
        unused_task_ids=list(event.unused_task_ids),
        aggregated_at=to_timestamp(event.aggregated_at),
    )


def _stamp(target: Timestamp, moment: datetime | None) -> None:
    if moment is not None:
        target.FromDatetime(moment)


def _decision(review: Review) -> dict[str, object]:
    """The fields the event and the API's Review share: where the review stands and why."""
    return {
        "submission_id": review.submission_id,
        "task_id": review.task_id,
        "worker_id": review.worker_id,
        "task_type": review.task_type,
        "price_micros": review.price_micros,
        "state": _STATES[review.state],
        "paid": review.paid,
        "automatic": review.automatic,
        "reason": (
            _REASONS[review.reason] if review.reason else events_pb2.REJECTION_REASON_UNSPECIFIED
        ),
        "explanation": review.explanation,
        "result_kept": review.result_kept,
        "appeal_statement": review.appeal_statement,
        "appeal_answer": review.appeal_answer,
    }


def review_step_to_pb(review: Review) -> events_pb2.SubmissionReviewed:
    message = events_pb2.SubmissionReviewed(
        region=review.region,
        platform_id=review.platform_id,
        worked_seconds=review.worked_seconds,
        gold=review.gold,
        **_decision(review),  # type: ignore[arg-type]
    )
    _stamps(message, review)
    return message


def review_to_pb(review: Review) -> scoring_pb2.Review:
    message = scoring_pb2.Review(
        client_task_id=review.client_task_id,
        answer=review.answer,
        **_decision(review),  # type: ignore[arg-type]
    )
    _stamps(message, review)
    return message


def _stamps(message: events_pb2.SubmissionReviewed | scoring_pb2.Review, review: Review) -> None:
    _stamp(message.scored_at, review.scored_at)
    _stamp(message.review_due, review.review_due)
    _stamp(message.decided_at, review.decided_at)
    _stamp(message.appeal_until, review.appeal_until)
    _stamp(message.appealed_at, review.appealed_at)
    _stamp(message.appeal_due, review.appeal_due)
    _stamp(message.appeal_answered_at, review.appeal_answered_at)


def eligibility_to_pb(change: EligibilityChange) -> events_pb2.WorkerEligibilityChanged:
    message = events_pb2.WorkerEligibilityChanged(
        worker_id=change.worker_id,
        platform_id=change.platform_id,
        task_type=change.task_type,
        eligible=change.eligible,
        quality=change.quality,
        gold_passed=change.gold_passed,
        gold_failed=change.gold_failed,
    )
    _stamp(message.changed_at, change.changed_at)
    return message
