"""Kafka events scoring consumes, mapped to its handlers.

One consumer group per topic: a submission that arrives before its task is retried with
backoff, and that retry must not hold up tasks.submitted, which would never deliver the task.
"""

from collections.abc import Sequence

from fairtask.v1 import envelope_pb2
from fairtask_runtime.envelope import PoisonMessageError
from scoring import metrics
from scoring.adapters.codec import submission_from_pb, task_from_pb
from scoring.service_layer.handlers import (
    AnswerWithdrawn,
    RememberTask,
    ScoreSubmission,
    ScoringHandlers,
)

TASKS_TOPIC = "tasks.submitted"
SUBMISSIONS_TOPIC = "submissions"
ASSIGNMENTS_TOPIC = "tasks.assigned"


class TaskIntake:
    """tasks.submitted -> the task remembered for scoring (idempotent by task id)."""

    def __init__(self, handlers: ScoringHandlers) -> None:
        self._handlers = handlers

    async def __call__(self, envelope: envelope_pb2.Envelope) -> None:
        if envelope.WhichOneof("payload") != "task_submitted":
            raise PoisonMessageError(f"unexpected {envelope.type} on {TASKS_TOPIC}")
        message = envelope.task_submitted
        missing = [f for f in ("task_id", "platform_id") if not getattr(message, f)]
        if missing:
            raise PoisonMessageError(f"task_submitted lacks {', '.join(missing)}")
        try:
            task = task_from_pb(message)
        except ValueError as exc:  # an overlap no policy can follow
            raise PoisonMessageError(f"task {message.task_id!r}: {exc}") from exc
        await self._handlers.remember_task(RememberTask(task))


class SubmissionScoring:
    """submissions -> verdict published, review opened (idempotent by submission)."""

    def __init__(self, handlers: ScoringHandlers) -> None:
        self._handlers = handlers

    async def __call__(self, envelope: envelope_pb2.Envelope) -> None:
        if envelope.WhichOneof("payload") != "submission_received":
            raise PoisonMessageError(f"unexpected {envelope.type} on {SUBMISSIONS_TOPIC}")
        message = envelope.submission_received
        missing = [f for f in ("submission_id", "task_id", "worker_id") if not getattr(message, f)]
        if missing:
            raise PoisonMessageError(f"submission_received lacks {', '.join(missing)}")
        try:
            submission = submission_from_pb(message)
        except (ValueError, OverflowError) as exc:  # a timestamp out of range
            raise PoisonMessageError(f"submission {message.submission_id!r}: {exc}") from exc
        # TaskNotKnownError propagates as an ordinary exception: the runtime retries it.
        outcome = await self._handlers.score_submission(ScoreSubmission(submission))
        if outcome.published:
            metrics.SUBMISSIONS_SCORED.labels(outcome.verdict.value).inc()


class WithdrawnAnswers:
    """tasks.assigned -> a task settled with the answers it has when the further answer it
    waited for was cancelled or expired (TaskCancelled with `answer_of`). The topic's other
    events (offers, leases, the platform's own tasks cancelled) are skipped."""

    def __init__(self, handlers: ScoringHandlers) -> None:
        self._handlers = handlers

    async def __call__(self, envelope: envelope_pb2.Envelope) -> None:
        if envelope.WhichOneof("payload") != "task_cancelled":
            return
        message = envelope.task_cancelled
        if not message.answer_of:
            return
        if not message.task_id:
            raise PoisonMessageError("task_cancelled lacks task_id")
        await self._handlers.answer_withdrawn(AnswerWithdrawn(message.answer_of, message.task_id))

    async def batch(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        for envelope in envelopes:
            await self(envelope)
