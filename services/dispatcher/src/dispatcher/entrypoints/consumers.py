"""Kafka events the dispatcher consumes, mapped to its handlers."""

from dispatcher.adapters.codec import task_from_pb
from dispatcher.service_layer.dispatch import Dispatch
from fairtask.v1 import envelope_pb2
from fairtask_runtime.envelope import PoisonMessageError


class TaskIngest:
    """tasks.submitted -> queued for dispatch (idempotent by task id)."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch

    async def __call__(self, envelope: envelope_pb2.Envelope) -> None:
        if envelope.WhichOneof("payload") != "task_submitted":
            raise PoisonMessageError(f"unexpected {envelope.type} on tasks.submitted")
        message = envelope.task_submitted
        if not (message.task_id and message.pool and message.platform_id and message.task_type):
            raise PoisonMessageError("task_submitted lacks task_id, pool, platform or type")
        await self._dispatch.ingest(task_from_pb(message))
