"""fairtask.v1.PlatformService: protobuf in, domain calls, protobuf out."""

from datetime import datetime

from dispatcher import metrics
from dispatcher.adapters.codec import from_timestamp, overlap_from_pb
from dispatcher.domain.errors import (
    BacklogFullError,
    BelowPayFloorError,
    ConflictError,
    EscrowUnavailableError,
    InsufficientEscrowError,
    InvalidInputError,
    NotFoundError,
    SubmissionsUnavailableError,
    TaskRecordsUnavailableError,
    Violation,
)
from dispatcher.domain.model import NewTask, TaskState, TaskType
from dispatcher.entrypoints.errors import Context, abort_with, required
from dispatcher.service_layer.platform import PlatformHandlers, SubmitTasks
from fairtask.v1 import dispatcher_pb2, dispatcher_pb2_grpc
from fairtask_runtime.grpc.identity import PlatformAuthenticator

_STATES = {
    TaskState.QUEUED: dispatcher_pb2.TASK_STATE_QUEUED,
    TaskState.OFFERED: dispatcher_pb2.TASK_STATE_OFFERED,
    TaskState.LEASED: dispatcher_pb2.TASK_STATE_LEASED,
    TaskState.SUBMITTED: dispatcher_pb2.TASK_STATE_SUBMITTED,
    TaskState.CANCELLED: dispatcher_pb2.TASK_STATE_CANCELLED,
    TaskState.EXPIRED: dispatcher_pb2.TASK_STATE_EXPIRED,
}

_HANDLED = (
    InvalidInputError,
    NotFoundError,
    ConflictError,
    BacklogFullError,
    BelowPayFloorError,
    InsufficientEscrowError,
    EscrowUnavailableError,
    TaskRecordsUnavailableError,
    SubmissionsUnavailableError,
)


def _deadline_of(task: dispatcher_pb2.NewTask, field: str) -> datetime | None:
    if not task.HasField("deadline"):
        return None
    try:
        return from_timestamp(task.deadline)
    except (ValueError, OverflowError) as error:
        raise InvalidInputError(
            [Violation(field, f"is not a valid timestamp ({error})")]
        ) from error


class PlatformServicer(dispatcher_pb2_grpc.PlatformServiceServicer):
    def __init__(self, handlers: PlatformHandlers, platforms: PlatformAuthenticator) -> None:
        self._handlers = handlers
        self._platforms = platforms

    async def DefineTaskType(
        self, request: dispatcher_pb2.DefineTaskTypeRequest, context: Context
    ) -> dispatcher_pb2.DefineTaskTypeResponse:
        caller = await self._platforms.platform_id(context)
        given = request.task_type
        task_type = TaskType(
            name=given.name,
            purpose=given.purpose,
            price_micros=given.price_micros,
            effort_seconds=given.effort_seconds,
            skills=tuple(given.skills),
            sensitive=given.sensitive,
            overlap=overlap_from_pb(given.overlap) if given.HasField("overlap") else None,
        )
        try:
            await self._handlers.define_task_type(caller, task_type)
        except _HANDLED as error:
            await abort_with(context, error)
        return dispatcher_pb2.DefineTaskTypeResponse(task_type=given)

    async def SubmitTasks(
        self, request: dispatcher_pb2.SubmitTasksRequest, context: Context
    ) -> dispatcher_pb2.SubmitTasksResponse:
        caller = await self._platforms.platform_id(context)
        try:
            tasks = [
                NewTask(
                    client_task_id=t.client_task_id,
                    task_type=t.task_type,
                    payload=t.payload,
                    deadline=_deadline_of(t, f"tasks[{i}].deadline"),
                    gold_answer=t.gold_answer,
                )
                for i, t in enumerate(request.tasks)
            ]
            submitted = await self._handlers.submit_tasks(SubmitTasks(caller, tasks))
        except _HANDLED as error:
            if isinstance(error, BacklogFullError):
                metrics.SUBMIT_THROTTLED.inc()
            else:
                metrics.SUBMIT_REJECTED.inc()
            await abort_with(context, error)
            raise
        metrics.TASKS_SUBMITTED.inc(sum(1 for s in submitted if not s.duplicate))
        return dispatcher_pb2.SubmitTasksResponse(
            tasks=[
                dispatcher_pb2.SubmittedTask(
                    client_task_id=s.client_task_id, task_id=s.task_id, duplicate=s.duplicate
                )
                for s in submitted
            ]
        )

    async def GetTask(
        self, request: dispatcher_pb2.GetTaskRequest, context: Context
    ) -> dispatcher_pb2.GetTaskResponse:
        caller = await self._platforms.platform_id(context)
        try:
            if violations := required(request.task_id, "task_id"):
                raise InvalidInputError(violations)
            status = await self._handlers.get_task(caller, request.task_id)
        except _HANDLED as error:
            await abort_with(context, error)
            raise
        return dispatcher_pb2.GetTaskResponse(
            task_id=status.task_id,
            client_task_id=status.client_task_id,
            task_type=status.task_type,
            state=_STATES[status.state],
            worker_id=status.worker_id,
        )

    async def CancelTask(
        self, request: dispatcher_pb2.CancelTaskRequest, context: Context
    ) -> dispatcher_pb2.CancelTaskResponse:
        caller = await self._platforms.platform_id(context)
        try:
            if violations := required(request.task_id, "task_id"):
                raise InvalidInputError(violations)
            state = await self._handlers.cancel_task(caller, request.task_id, request.reason)
        except _HANDLED as error:
            await abort_with(context, error)
            raise
        return dispatcher_pb2.CancelTaskResponse(state=_STATES[state])
