"""The raw pipeline floor: Kafka produce -> consume -> gRPC push, and no logic at all.

`python -m fairtask_bench.raw_floor` (FAIRTASK_* settings, as a service) speaks the dispatcher's
gRPC API to the same simulated platform and workers, but SubmitTasks only produces each task to
Kafka (idempotent, acks=all, as the dispatcher does), a plain consumer hands each record to the
next idle stream, an accept gets a lease and a submit frees the worker. No Redis, no scheduler,
no events: whatever the dispatcher does beyond this is what its logic costs.
"""

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from google.protobuf.timestamp_pb2 import Timestamp

from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg
from fairtask_runtime.grpc.server import GrpcServer
from fairtask_runtime.settings import ServiceSettings
from fairtask_runtime.shutdown import shutdown_event

TOPIC = "tasks.submitted"
Context = grpc.aio.ServicerContext[object, object]


@dataclass(eq=False)
class _Stream:
    outbox: asyncio.Queue[d.ConnectResponse] = field(default_factory=asyncio.Queue)
    open: bool = True


class RawFloor(dg.WorkerServiceServicer, dg.PlatformServiceServicer):
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._idle: deque[_Stream] = deque()
        self._waiting: deque[bytes] = deque()
        self._offer_ids = itertools.count()

    async def RegisterWorker(
        self, request: d.RegisterWorkerRequest, context: Context
    ) -> d.RegisterWorkerResponse:
        return d.RegisterWorkerResponse(worker_id=request.worker_id, token="raw")

    async def DefineTaskType(
        self, request: d.DefineTaskTypeRequest, context: Context
    ) -> d.DefineTaskTypeResponse:
        return d.DefineTaskTypeResponse(task_type=request.task_type)

    async def SubmitTasks(
        self, request: d.SubmitTasksRequest, context: Context
    ) -> d.SubmitTasksResponse:
        sent = [
            await self._producer.send(
                self._topic, value=task.SerializeToString(), key=task.task_type.encode()
            )
            for task in request.tasks
        ]
        await asyncio.gather(*sent)  # durable (acks=all) before answering, as the dispatcher
        return d.SubmitTasksResponse(
            tasks=[
                d.SubmittedTask(client_task_id=t.client_task_id, task_id=t.client_task_id)
                for t in request.tasks
            ]
        )

    async def GetTask(self, request: d.GetTaskRequest, context: Context) -> d.GetTaskResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the raw floor keeps no tasks")
        raise AssertionError("abort raises")

    async def CancelTask(
        self, request: d.CancelTaskRequest, context: Context
    ) -> d.CancelTaskResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the raw floor keeps no tasks")
        raise AssertionError("abort raises")

    async def Connect(
        self,
        request_iterator: AsyncIterator[d.ConnectRequest],
        context: Context,
    ) -> AsyncIterator[d.ConnectResponse]:
        await anext(request_iterator)  # the hello
        stream = _Stream()
        yield d.ConnectResponse(welcome=d.Welcome())
        reader = asyncio.create_task(self._read(request_iterator, stream))
        self._make_idle(stream)
        try:
            while True:
                yield await stream.outbox.get()
        finally:
            stream.open = False
            reader.cancel()

    async def _read(self, requests: AsyncIterator[d.ConnectRequest], stream: _Stream) -> None:
        async for request in requests:
            kind = request.WhichOneof("message")
            if kind == "accept":
                lease = d.Lease(lease_id=request.accept.offer_id)
                stream.outbox.put_nowait(d.ConnectResponse(lease=lease))
            elif kind == "submit":
                done = d.SubmitAccepted(lease_id=request.submit.lease_id)
                stream.outbox.put_nowait(d.ConnectResponse(submit_accepted=done))
                self._make_idle(stream)

    def ingest(self, values: list[bytes]) -> None:
        self._waiting.extend(values)
        self._assign()

    def _make_idle(self, stream: _Stream) -> None:
        self._idle.append(stream)
        self._assign()

    def _assign(self) -> None:
        while self._waiting and self._idle:
            stream = self._idle.popleft()
            if not stream.open:
                continue
            task = d.NewTask.FromString(self._waiting.popleft())
            offered_at = Timestamp()
            offered_at.GetCurrentTime()
            offer = d.Offer(
                offer_id=str(next(self._offer_ids)),
                task_id=task.client_task_id,
                task_type=task.task_type,
                payload=task.payload,
                offered_at=offered_at,
            )
            stream.outbox.put_nowait(d.ConnectResponse(offer=offer))


async def _consume(consumer: AIOKafkaConsumer, floor: RawFloor) -> None:
    committed = time.monotonic()
    while True:
        batch = await consumer.getmany(timeout_ms=200, max_records=500)
        for records in batch.values():
            floor.ingest([record.value for record in records])
        if time.monotonic() - committed >= 1.0:
            await consumer.commit()
            committed = time.monotonic()


async def main() -> None:
    settings = ServiceSettings()
    topic = settings.topic_prefix + TOPIC
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.topic_prefix + "raw-floor",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
    floor = RawFloor(producer, topic)
    server = GrpcServer(
        service_names=[
            d.DESCRIPTOR.services_by_name["PlatformService"].full_name,
            d.DESCRIPTOR.services_by_name["WorkerService"].full_name,
        ],
        registrars=[
            lambda s: dg.add_PlatformServiceServicer_to_server(floor, s),
            lambda s: dg.add_WorkerServiceServicer_to_server(floor, s),
        ],
    )
    stop = shutdown_event()
    await producer.start()
    await consumer.start()
    consuming = asyncio.create_task(_consume(consumer, floor))
    await server.start(settings.host, settings.grpc_port)
    try:
        await stop.wait()
    finally:
        await server.stop(1.0)
        consuming.cancel()
        await consumer.stop()
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main())
