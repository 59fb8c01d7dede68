"""Translation between scoring's domain objects and protobuf."""

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from fairtask.v1 import events_pb2, scoring_pb2
from scoring.domain.events import SubmissionScored
from scoring.domain.model import ResultEntry, Submission, TaskRecord, Verdict

_VERDICTS = {
    Verdict.ACCEPTED: events_pb2.VERDICT_ACCEPTED,
    Verdict.GOLD_PASSED: events_pb2.VERDICT_GOLD_PASSED,
    Verdict.GOLD_FAILED: events_pb2.VERDICT_GOLD_FAILED,
}


def to_timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def from_timestamp(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def task_from_pb(message: events_pb2.TaskSubmitted) -> TaskRecord:
    return TaskRecord(
        task_id=message.task_id,
        platform_id=message.platform_id,
        client_task_id=message.client_task_id,
        task_type=message.task_type,
        gold_answer=message.gold_answer,
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
    )
