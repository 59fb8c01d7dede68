"""Kafka events the dispatcher consumes, mapped to its handlers."""

from collections.abc import Sequence

import structlog

from dispatcher.adapters.codec import task_from_pb
from dispatcher.domain.model import Task, TaskState, pool_of
from dispatcher.service_layer.dispatch import Dispatch
from dispatcher.service_layer.platform import PlatformHandlers, WantAnswer
from dispatcher.service_layer.ports import TaskOutcome
from dispatcher.service_layer.transitions import DEADLINE_PASSED
from fairtask.v1 import envelope_pb2
from fairtask_runtime.answers import MAX_ANSWERS
from fairtask_runtime.envelope import PoisonMessageError

log = structlog.get_logger(__name__)


class TaskIngest:
    """tasks.submitted -> queued for dispatch (idempotent by task id)."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch

    async def __call__(self, envelope: envelope_pb2.Envelope) -> None:
        await self._dispatch.ingest(_task_of(envelope))

    async def many(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        """A batch in one round trip; PoisonMessageError if any envelope is not a task."""
        tasks = [_task_of(envelope) for envelope in envelopes]
        if tasks:
            await self._dispatch.ingest_many(tasks)


def _task_of(envelope: envelope_pb2.Envelope) -> Task:
    if envelope.WhichOneof("payload") != "task_submitted":
        raise PoisonMessageError(f"unexpected {envelope.type} on tasks.submitted")
    message = envelope.task_submitted
    if not (message.task_id and message.pool and message.platform_id and message.task_type):
        raise PoisonMessageError("task_submitted lacks task_id, pool, platform or type")
    try:
        return task_from_pb(message)
    except (ValueError, OverflowError) as exc:  # a timestamp out of range, a malformed field
        raise PoisonMessageError(f"task_submitted {message.task_id!r}: {exc}") from exc


class QualityUpdates:
    """workers.quality -> the worker let into or kept out of the task type's pool
    (idempotent: applying the same change twice changes nothing)."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch

    async def __call__(self, envelope: envelope_pb2.Envelope) -> None:
        if envelope.WhichOneof("payload") != "worker_eligibility_changed":
            raise PoisonMessageError(f"unexpected {envelope.type} on workers.quality")
        message = envelope.worker_eligibility_changed
        if not (message.worker_id and message.platform_id and message.task_type):
            raise PoisonMessageError("worker_eligibility_changed lacks worker, platform or type")
        pool = pool_of(message.platform_id, message.task_type)
        version = message.gold_passed + message.gold_failed
        await self._dispatch.requalify(message.worker_id, pool, message.eligible, version)


class AnswerRequests:
    """tasks.overlap -> one more worker's answer queued (AnswerWanted; idempotent by the
    copy's id), or a task settled (AnswersAggregated): it and its copies kept no longer than
    any task done (idempotent)."""

    def __init__(self, platform: PlatformHandlers) -> None:
        self._platform = platform

    async def __call__(self, envelope: envelope_pb2.Envelope) -> None:
        kind = envelope.WhichOneof("payload")
        if kind == "answers_aggregated":
            settled = envelope.answers_aggregated
            if not settled.task_id or settled.answers > MAX_ANSWERS:
                raise PoisonMessageError("answers_aggregated lacks its task or counts too many")
            await self._platform.answers_settled(
                settled.task_id, settled.answers, settled.unused_task_ids
            )
            return
        if kind != "answer_wanted":
            raise PoisonMessageError(f"unexpected {envelope.type} on tasks.overlap")
        message = envelope.answer_wanted
        if not (message.task_id and message.platform_id and message.answer_number >= 2):
            raise PoisonMessageError("answer_wanted lacks task, platform or answer number")
        wanted = WantAnswer(
            message.task_id, message.platform_id, message.answer_number, message.answered_by
        )
        if not await self._platform.want_answer(wanted):
            log.warning(
                "an answer was asked for a task that cannot have it",
                task_id=message.task_id,
                answer_number=message.answer_number,
            )


class TaskOutcomes:
    """submissions and tasks.assigned -> what became of each platform's task, kept for GetTask
    once Redis no longer keeps the task (idempotent: a submission is final, the rest is
    recorded over nothing). The topics' other events, and further answers' copies, are not
    outcomes of a platform's task."""

    def __init__(self, platform: PlatformHandlers) -> None:
        self._platform = platform

    async def __call__(self, envelope: envelope_pb2.Envelope) -> None:
        await self.many([envelope])

    async def many(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        outcomes = [o for o in (_outcome_of(e) for e in envelopes) if o is not None]
        if outcomes:
            await self._platform.tasks_done(outcomes)


def _outcome_of(envelope: envelope_pb2.Envelope) -> TaskOutcome | None:
    match envelope.WhichOneof("payload"):
        case "submission_received":
            received = envelope.submission_received
            if not (received.task_id and received.worker_id):
                raise PoisonMessageError("submission_received lacks its task or worker")
            return TaskOutcome(
                received.task_id,
                TaskState.SUBMITTED,
                received.worker_id,
                received.client_task_id,
                received.task_type,
            )
        case "task_cancelled":
            cancelled = envelope.task_cancelled
            if not cancelled.task_id:
                raise PoisonMessageError("task_cancelled lacks its task")
            if cancelled.answer_of:
                return None
            expired = cancelled.reason == DEADLINE_PASSED
            state = TaskState.EXPIRED if expired else TaskState.CANCELLED
            return TaskOutcome(cancelled.task_id, state)
    return None
