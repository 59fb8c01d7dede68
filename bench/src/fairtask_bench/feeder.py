"""The platform of the load: SubmitTasks calls whose task payloads carry the moment of the call."""

import itertools
from collections import Counter

import grpc

from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg
from fairtask_bench.pacer import Pacer
from fairtask_bench.workload import TASK_TYPE, stamp
from fairtask_runtime.grpc.identity import Metadata

BATCH = 500  # tasks per SubmitTasks call (the API takes up to 1,000)


class Platform:
    def __init__(self, channel: grpc.aio.Channel, metadata: Metadata, run_id: str) -> None:
        self._stub = dg.PlatformServiceStub(channel)
        self._metadata = metadata
        self._run_id = run_id
        self._ids = itertools.count()
        self.refusals: Counter[str] = Counter()

    async def define_task_type(self, task_type: d.TaskType) -> None:
        request = d.DefineTaskTypeRequest(task_type=task_type)
        await self._stub.DefineTaskType(request, metadata=self._metadata, timeout=30)

    def pacer(self) -> Pacer:
        return Pacer(self.submit, BATCH)

    async def submit(self, count: int) -> int:
        payload = stamp()
        tasks = [
            d.NewTask(
                client_task_id=f"{self._run_id}-{next(self._ids)}",
                task_type=TASK_TYPE,
                payload=payload,
            )
            for _ in range(count)
        ]
        try:
            await self._stub.SubmitTasks(
                d.SubmitTasksRequest(tasks=tasks), metadata=self._metadata, timeout=30
            )
        except grpc.aio.AioRpcError as error:
            # Backpressure (or a failure) shows up as fewer tasks, counted by status.
            self.refusals[error.code().name] += count
            return count
        return 0
