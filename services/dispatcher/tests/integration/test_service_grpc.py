"""The dispatcher as a platform and a worker see it: real gRPC, Redis and Kafka."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest
import redis.asyncio as redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from worker_clients import drop_tables

from dispatcher.bootstrap import Dispatcher, bootstrap
from dispatcher.config import DispatcherSettings
from dispatcher.domain.model import pool_of, task_id_for
from dispatcher.service_layer.auth import RegisterWorker
from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg
from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_localstack.ports import free_ports
from fairtask_runtime.answers import answer_task_id
from fairtask_runtime.envelope import wrap
from fairtask_runtime.grpc.errors import error_info_of, field_violations_of
from fairtask_runtime.grpc.identity import Metadata, bearer
from fairtask_runtime.kafka.producer import EventProducer

pytestmark = pytest.mark.integration

PURPOSE = "Lab A trains a model that finds cars in street photos"


@asynccontextmanager
async def serving(endpoints: Any, topic_prefix: str, **extra: Any) -> AsyncIterator[Dispatcher]:
    prefix = extra.pop("redis_prefix", f"t{uuid.uuid4().hex[:8]}:")
    settings = DispatcherSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        redis_url=endpoints.redis_url,
        redis_prefix=prefix,
        postgres_dsn=extra.pop("postgres_dsn", endpoints.postgres_dsn),
        platform_keys_prefix=f"{prefix}keys:",
        topic_prefix=topic_prefix,
        offer_ttl_s=1.5,
        grace_s=1.5,
        log_json=False,
        shutdown_grace_s=1.0,
        **extra,
    )
    service = bootstrap(settings)
    await service.runtime.start("127.0.0.1", 0, 0)
    try:
        yield service
    finally:
        await service.runtime.stop()
    if settings.postgres_dsn == endpoints.postgres_dsn:
        await drop_tables(settings)


@pytest.fixture
async def service(stack_endpoints: Any, kafka_topics: str) -> AsyncIterator[Dispatcher]:
    async with serving(stack_endpoints, kafka_topics) as service:
        yield service


@pytest.fixture
async def lab_a(service: Dispatcher) -> Metadata:
    """Call metadata with an API key of platform lab-a."""
    return bearer((await service.platform_keys.issue("lab-a")).key)


@pytest.fixture
async def channel(service: Dispatcher) -> AsyncIterator[grpc.aio.Channel]:
    assert service.runtime.grpc is not None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.runtime.grpc.port}") as ch:
        yield ch


async def define(
    platform: dg.PlatformServiceStub, caller: Metadata, effort_seconds: int = 90
) -> None:
    await platform.DefineTaskType(
        d.DefineTaskTypeRequest(
            task_type=d.TaskType(
                name="image-bbox",
                purpose=PURPOSE,
                price_micros=400_000,
                effort_seconds=effort_seconds,
                skills=["en"],
            )
        ),
        metadata=caller,
        timeout=5,
    )


def new_task(client_id: str, payload: bytes = b"img", **fields: Any) -> d.NewTask:
    return d.NewTask(client_task_id=client_id, task_type="image-bbox", payload=payload, **fields)


class Worker:
    """A worker's end of the Connect stream, driven message by message."""

    def __init__(
        self, channel: grpc.aio.Channel, worker_id: str, token: str, region: str = "ph"
    ) -> None:
        self._outgoing: asyncio.Queue[d.ConnectRequest | None] = asyncio.Queue()
        self.worker_id = worker_id
        self.token = token
        self.region = region
        self._call = dg.WorkerServiceStub(channel).Connect(self._requests())

    async def _requests(self) -> AsyncIterator[d.ConnectRequest]:
        while (message := await self._outgoing.get()) is not None:
            yield message

    async def send(self, **message: Any) -> None:
        await self._outgoing.put(d.ConnectRequest(**message))

    async def hello(self) -> d.ConnectResponse:
        # Available all day: the default quiet hours would make these tests depend on the clock.
        await self.send(
            hello=d.Hello(token=self.token, skills=["en"], availability=["00:00-24:00"])
        )
        return await self.next("welcome")

    async def next(self, kind: str, wait_s: float = 10) -> d.ConnectResponse:
        message: d.ConnectResponse = await asyncio.wait_for(self._call.read(), wait_s)
        assert message is not grpc.aio.EOF, f"stream ended while waiting for {kind}"
        assert message.WhichOneof("message") == kind, message
        return message

    def hang_up(self) -> None:
        self._call.cancel()


WorkerFactory = Callable[[str], Awaitable[Worker]]


@pytest.fixture
def workers(service: Dispatcher, channel: grpc.aio.Channel) -> WorkerFactory:
    """Connects a worker by id, registering it (once) for a token."""
    tokens: dict[str, str] = {}

    async def connect(worker_id: str) -> Worker:
        if worker_id not in tokens:
            # All day: the fair scheduler keeps quiet hours for workers who state no window.
            command = RegisterWorker(
                region="ph", worker_id=worker_id, skills=("en",), availability=("00:00-24:00",)
            )
            tokens[worker_id] = (await service.auth.register(command)).token
        return Worker(channel, worker_id, tokens[worker_id])

    return connect


async def read_events(
    bootstrap: str, topic: str, count: int, kind: str, wait_s: float = 15
) -> list[envelope_pb2.Envelope]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[envelope_pb2.Envelope] = []
    try:
        deadline = asyncio.get_running_loop().time() + wait_s
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for record in records:
                    envelope = envelope_pb2.Envelope.FromString(record.value)
                    if envelope.WhichOneof("payload") == kind:
                        found.append(envelope)
    finally:
        await consumer.stop()
    return found


async def test_serves_health_and_reflection(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(
        health_pb2.HealthCheckRequest(service="fairtask.v1.PlatformService"), timeout=5
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for answer in stub.ServerReflectionInfo(ask(), timeout=5):
        names = {s.name for s in answer.list_services_response.service}
        assert {"fairtask.v1.PlatformService", "fairtask.v1.WorkerService"} <= names
        break


async def test_invalid_tasks_get_one_field_violation_each_and_nothing_is_accepted(
    channel: grpc.aio.Channel, lab_a: Metadata
) -> None:
    platform = dg.PlatformServiceStub(channel)
    await define(platform, lab_a)
    past = datetime.now(UTC) - timedelta(hours=1)
    batch = [
        new_task("ok-1"),
        d.NewTask(client_task_id="t-unknown", task_type="no-such-type", payload=b"x"),
        new_task("t-big", payload=b"x" * 70_000),
        new_task("t-late"),
        new_task(""),
    ]
    batch[3].deadline.FromDatetime(past)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.SubmitTasks(d.SubmitTasksRequest(tasks=batch), metadata=lab_a, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in field_violations_of(caught.value)}
    assert fields == {
        "tasks[1].task_type",
        "tasks[2].payload",
        "tasks[3].deadline",
        "tasks[4].client_task_id",
    }
    # The valid task of the refused batch was not accepted either.
    accepted = await platform.SubmitTasks(
        d.SubmitTasksRequest(tasks=[new_task("ok-1")]), metadata=lab_a, timeout=5
    )
    assert not accepted.tasks[0].duplicate


async def test_task_types_without_purpose_or_with_absurd_effort_are_refused(
    channel: grpc.aio.Channel, lab_a: Metadata
) -> None:
    platform = dg.PlatformServiceStub(channel)
    bad = d.TaskType(name="x", purpose="", price_micros=-5, effort_seconds=10 * 86400)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.DefineTaskType(
            d.DefineTaskTypeRequest(task_type=bad), metadata=lab_a, timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in field_violations_of(caught.value)}
    assert fields == {
        "task_type.purpose",
        "task_type.price_micros",
        "task_type.effort_seconds",
    }


async def test_a_task_type_that_cannot_pay_the_floor_is_refused_with_its_minimum_price(
    channel: grpc.aio.Channel, lab_a: Metadata
) -> None:
    platform = dg.PlatformServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await define(platform, lab_a, effort_seconds=3600)  # $0.40 for an hour of work

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info_of(caught.value)
    assert info is not None
    assert info.reason == "PRICE_BELOW_PAY_FLOOR"
    assert dict(info.metadata) == {
        "minimum_price_micros": "12000000",
        "floor_micros_per_hour": "12000000",
    }


async def test_resubmission_is_idempotent_and_reuse_with_other_content_is_refused(
    channel: grpc.aio.Channel, lab_a: Metadata
) -> None:
    platform = dg.PlatformServiceStub(channel)
    await define(platform, lab_a)
    first = await platform.SubmitTasks(
        d.SubmitTasksRequest(tasks=[new_task("same")]), metadata=lab_a, timeout=5
    )
    again = await platform.SubmitTasks(
        d.SubmitTasksRequest(tasks=[new_task("same")]), metadata=lab_a, timeout=5
    )
    assert again.tasks[0].task_id == first.tasks[0].task_id
    assert again.tasks[0].duplicate
    changed = new_task("same", payload=b"other image")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.SubmitTasks(d.SubmitTasksRequest(tasks=[changed]), metadata=lab_a, timeout=5)
    assert [v.field for v in field_violations_of(caught.value)] == ["tasks[0].client_task_id"]


async def test_a_client_task_id_stays_used_after_redis_forgot_its_task(
    stack_endpoints: Any, kafka_topics: str
) -> None:
    """Redis keeps only what is in play: a finished task's keys expire, and the id the
    platform gave it is kept in PostgreSQL, so a resubmission long after is still the same
    task and other content under it is still refused."""
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    client = redis.from_url(stack_endpoints.redis_url)
    async with serving(stack_endpoints, kafka_topics, redis_prefix=prefix) as service:
        lab_a = bearer((await service.platform_keys.issue("lab-a")).key)
        assert service.runtime.grpc is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.runtime.grpc.port}") as ch:
            platform = dg.PlatformServiceStub(ch)
            await define(platform, lab_a)
            first = await platform.SubmitTasks(
                d.SubmitTasksRequest(tasks=[new_task("kept")]), metadata=lab_a, timeout=5
            )
            assert [k async for k in client.scan_iter(match=f"{prefix}client:*")] == []
            conn = await asyncpg.connect(stack_endpoints.postgres_dsn, timeout=10)
            try:
                kept = await conn.fetch(
                    f'SELECT task_id::text, published FROM "{prefix[:-1]}".client_tasks'
                )
            finally:
                await conn.close()
            assert [(r["task_id"], r["published"]) for r in kept] == [
                (task_id_for("lab-a", "kept"), True)
            ]
            # What expiry of the finished task does, at once.
            task_keys = [k async for k in client.scan_iter(match=f"{prefix}task:*")]
            await client.delete(*task_keys)

            again = await platform.SubmitTasks(
                d.SubmitTasksRequest(tasks=[new_task("kept")]), metadata=lab_a, timeout=5
            )
            assert (again.tasks[0].task_id, again.tasks[0].duplicate) == (
                first.tasks[0].task_id,
                True,
            )
            changed = new_task("kept", payload=b"other image")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await platform.SubmitTasks(
                    d.SubmitTasksRequest(tasks=[changed]), metadata=lab_a, timeout=5
                )
            assert [v.field for v in field_violations_of(caught.value)] == [
                "tasks[0].client_task_id"
            ]
    await client.aclose()


async def test_what_became_of_a_task_is_told_after_redis_forgot_it(
    stack_endpoints: Any, kafka_topics: str
) -> None:
    """Redis keeps a task done only for FAIRTASK_FINISHED_TASK_KEPT_S; GetTask then answers
    from PostgreSQL, where the dispatcher recorded what became of the task."""
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    client = redis.from_url(stack_endpoints.redis_url)
    loop = asyncio.get_running_loop()
    async with serving(
        stack_endpoints, kafka_topics, redis_prefix=prefix, finished_task_kept_s=0.5
    ) as service:
        lab_a = bearer((await service.platform_keys.issue("lab-a")).key)
        lab_b = bearer((await service.platform_keys.issue("lab-b")).key)
        assert service.runtime.grpc is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.runtime.grpc.port}") as ch:
            platform = dg.PlatformServiceStub(ch)
            await define(platform, lab_a)
            submitted = await platform.SubmitTasks(
                d.SubmitTasksRequest(tasks=[new_task("withdrawn"), new_task("told")]),
                metadata=lab_a,
                timeout=5,
            )
            withdrawn_id, told_id = (t.task_id for t in submitted.tasks)
            await platform.CancelTask(
                d.CancelTaskRequest(task_id=withdrawn_id), metadata=lab_a, timeout=5
            )
            command = RegisterWorker(
                region="ph", worker_id="w-told", skills=("en",), availability=("00:00-24:00",)
            )
            worker = Worker(ch, "w-told", (await service.auth.register(command)).token)
            await worker.hello()
            offer = (await worker.next("offer")).offer
            assert offer.task_id == told_id
            await worker.send(accept=d.Accept(offer_id=offer.offer_id))
            lease = (await worker.next("lease")).lease
            await worker.send(submit=d.Submit(lease_id=lease.lease_id, answer=b"car"))
            await worker.next("submit_accepted")
            worker.hang_up()

            deadline = loop.time() + 20
            keys = [f"{prefix}task:{withdrawn_id}", f"{prefix}task:{told_id}"]
            while await client.exists(*keys) and loop.time() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            assert not await client.exists(*keys)  # Redis forgot both

            async def told(task_id: str, caller: Metadata) -> d.GetTaskResponse:
                while True:  # the outcome is recorded by a consumer: a moment behind
                    try:
                        return await platform.GetTask(
                            d.GetTaskRequest(task_id=task_id), metadata=caller, timeout=5
                        )
                    except grpc.aio.AioRpcError as error:
                        if error.code() != grpc.StatusCode.NOT_FOUND or loop.time() > deadline:
                            raise
                    await asyncio.sleep(0.2)

            done = await told(told_id, lab_a)
            assert (done.client_task_id, done.state, done.worker_id) == (
                "told",
                d.TASK_STATE_SUBMITTED,
                "w-told",
            )
            cancelled = await told(withdrawn_id, lab_a)
            assert (cancelled.client_task_id, cancelled.state) == (
                "withdrawn",
                d.TASK_STATE_CANCELLED,
            )
            deadline = loop.time()  # no waiting: another platform's task is unknown at once
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await told(told_id, lab_b)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    await client.aclose()


async def test_submitting_while_postgres_is_unreachable_is_unavailable_and_accepts_nothing(
    stack_endpoints: Any, kafka_topics: str
) -> None:
    (closed,) = free_ports(1)
    unreachable = f"postgresql://postgres@127.0.0.1:{closed}/fairtask"
    async with serving(
        stack_endpoints, kafka_topics, postgres_dsn=unreachable, postgres_timeout_s=1.0
    ) as service:
        lab_a = bearer((await service.platform_keys.issue("lab-a")).key)
        assert service.runtime.grpc is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.runtime.grpc.port}") as ch:
            platform = dg.PlatformServiceStub(ch)
            await define(platform, lab_a)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await platform.SubmitTasks(
                    d.SubmitTasksRequest(tasks=[new_task("later")]), metadata=lab_a, timeout=10
                )
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "retry" in (caught.value.details() or "").lower()
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await platform.GetTask(
                    d.GetTaskRequest(task_id=task_id_for("lab-a", "later")), metadata=lab_a
                )
            # Not in Redis (accepted, it would be, queued), and only PostgreSQL could say
            # whether it was done long ago: unavailable, not "unknown".
            assert missing.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "retry" in (missing.value.details() or "").lower()


async def test_offer_accept_submit_publishes_one_submission(
    channel: grpc.aio.Channel,
    workers: WorkerFactory,
    stack_endpoints: Any,
    kafka_topics: str,
    lab_a: Metadata,
) -> None:
    platform = dg.PlatformServiceStub(channel)
    await define(platform, lab_a)
    submitted = await platform.SubmitTasks(
        d.SubmitTasksRequest(tasks=[new_task("flow-1", gold_answer="gold-secret-7")]),
        metadata=lab_a,
        timeout=5,
    )
    task_id = submitted.tasks[0].task_id
    worker = await workers("w-flow")
    await worker.hello()
    offer = (await worker.next("offer")).offer
    assert offer.task_id == task_id
    assert offer.purpose == PURPOSE
    assert offer.price_micros == 400_000
    assert (
        b"gold-secret-7" not in offer.SerializeToString()
    )  # the gold answer never reaches a worker
    await worker.send(accept=d.Accept(offer_id=offer.offer_id))
    lease = (await worker.next("lease")).lease
    await worker.send(submit=d.Submit(lease_id=lease.lease_id, answer=b"car"))
    accepted = (await worker.next("submit_accepted")).submit_accepted
    await worker.send(submit=d.Submit(lease_id=lease.lease_id, answer=b"car"))
    duplicate = (await worker.next("error")).error
    assert duplicate.code == "ALREADY_EXISTS"
    status = await platform.GetTask(d.GetTaskRequest(task_id=task_id), metadata=lab_a)
    assert status.state == d.TASK_STATE_SUBMITTED
    assert status.worker_id == "w-flow"
    events = await read_events(
        stack_endpoints.kafka_bootstrap, kafka_topics + "submissions", 2, "submission_received", 5
    )
    assert [e.submission_received.submission_id for e in events] == [accepted.submission_id]
    worker.hang_up()


async def test_stream_errors_leave_the_connection_usable(
    channel: grpc.aio.Channel, workers: WorkerFactory
) -> None:
    rude = await workers("w-rude")
    await rude.send(accept=d.Accept(offer_id="x"))
    refused = (await rude.next("error")).error
    assert refused.code == "INVALID_ARGUMENT"
    lost = await workers("w-lost")
    await lost.send(
        hello=d.Hello(
            worker_id="w-lost",
            region="ph",
            time_zone="Mars/Olympus",
            availability=["25:00-26:00"],
            token=lost.token,
        )
    )
    unknown_zone = (await lost.next("error")).error
    assert (unknown_zone.code, unknown_zone.field) == ("INVALID_ARGUMENT", "hello.time_zone")
    assert "hello.availability[0]" in unknown_zone.message
    worker = await workers("w-errors")
    await worker.hello()
    await worker.send(accept=d.Accept(offer_id="not-mine"))
    assert (await worker.next("error")).error.code == "NOT_FOUND"
    await worker.send(submit=d.Submit(lease_id="stale", answer=b"x"))
    assert (await worker.next("error")).error.code == "NOT_FOUND"
    await worker.send(heartbeat=d.Heartbeat(lease_id="stale"))
    assert (await worker.next("error")).error.code == "NOT_FOUND"
    await worker.send(submit=d.Submit(lease_id="stale", answer=b"x" * 300_000))
    assert (await worker.next("error")).error.code == "INVALID_ARGUMENT"
    worker.hang_up()


async def test_disconnect_keeps_the_lease_through_grace_then_releases_it(
    channel: grpc.aio.Channel,
    workers: WorkerFactory,
    stack_endpoints: Any,
    kafka_topics: str,
    lab_a: Metadata,
) -> None:
    platform = dg.PlatformServiceStub(channel)
    await define(platform, lab_a)
    await platform.SubmitTasks(
        d.SubmitTasksRequest(tasks=[new_task("grace-1")]), metadata=lab_a, timeout=5
    )
    worker = await workers("w-grace")
    await worker.hello()
    offer = (await worker.next("offer")).offer
    await worker.send(accept=d.Accept(offer_id=offer.offer_id))
    lease = (await worker.next("lease")).lease
    await worker.send(heartbeat=d.Heartbeat(lease_id=lease.lease_id, draft=b"half done"))
    await asyncio.sleep(0.3)
    worker.hang_up()  # the power goes out
    await asyncio.sleep(0.3)
    back = await workers("w-grace")
    welcome = (await back.hello()).welcome
    assert welcome.resumed_lease.lease_id == lease.lease_id
    assert (await back.next("lease")).lease.draft == b"half done"
    back.hang_up()  # and out again, this time for longer than the grace period
    other = await workers("w-other")
    await other.hello()
    again = (await other.next("offer", wait_s=10)).offer
    assert again.task_id == offer.task_id
    released = await read_events(
        stack_endpoints.kafka_bootstrap, kafka_topics + "tasks.assigned", 1, "lease_released"
    )
    assert released[0].lease_released.lease_id == lease.lease_id
    assert released[0].lease_released.worker_id == "w-grace"
    other.hang_up()


async def test_malformed_events_go_to_the_dlq_and_the_consumer_goes_on(
    channel: grpc.aio.Channel,
    workers: WorkerFactory,
    stack_endpoints: Any,
    kafka_topics: str,
    lab_a: Metadata,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack_endpoints.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(kafka_topics + "tasks.submitted", b"\x00garbage", key=b"p")
    finally:
        await producer.stop()
    platform = dg.PlatformServiceStub(channel)
    await define(platform, lab_a)
    await platform.SubmitTasks(
        d.SubmitTasksRequest(tasks=[new_task("after-garbage")]), metadata=lab_a, timeout=5
    )
    worker = await workers("w-dlq")
    await worker.hello()
    assert (await worker.next("offer")).offer.task_id
    record = await first_record(
        stack_endpoints.kafka_bootstrap, kafka_topics + "tasks.submitted.dlq"
    )
    assert record.value == b"\x00garbage"
    assert dict(record.headers)["error"].startswith(b"PoisonMessageError")
    worker.hang_up()


async def test_a_fetched_batch_with_poison_in_it_queues_the_rest_once(
    channel: grpc.aio.Channel, stack_endpoints: Any, kafka_topics: str, lab_a: Metadata
) -> None:
    def submitted(client_id: str) -> envelope_pb2.Envelope:
        message = events_pb2.TaskSubmitted(
            task_id=task_id_for("lab-a", client_id),
            platform_id="lab-a",
            client_task_id=client_id,
            task_type="image-bbox",
            pool=pool_of("lab-a", "image-bbox"),
            purpose=PURPOSE,
            payload=b"img",
            effort_seconds=90,
            price_micros=400_000,
            skills=["en"],
        )
        return wrap(message, producer="test")

    first, second = submitted("batch-1"), submitted("batch-2")
    values = [
        first.SerializeToString(),
        b"\x00garbage",
        second.SerializeToString(),
        first.SerializeToString(),  # redelivered: the same event again
    ]
    producer = AIOKafkaProducer(bootstrap_servers=stack_endpoints.kafka_bootstrap, linger_ms=50)
    await producer.start()
    try:
        # One key, one partition, sent together: the consumer fetches them as one batch.
        sent = [await producer.send(kafka_topics + "tasks.submitted", v, key=b"p") for v in values]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()

    dead = await first_record(stack_endpoints.kafka_bootstrap, kafka_topics + "tasks.submitted.dlq")
    assert dead.value == b"\x00garbage"
    platform = dg.PlatformServiceStub(channel)
    for envelope in (first, second):
        task_id = envelope.task_submitted.task_id
        status = await platform.GetTask(
            d.GetTaskRequest(task_id=task_id), metadata=lab_a, timeout=5
        )
        assert status.state == d.TASK_STATE_QUEUED


async def first_record(bootstrap: str, topic: str) -> Any:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        return await asyncio.wait_for(consumer.getone(), 15)
    finally:
        await consumer.stop()


async def test_a_quality_event_keeps_the_worker_out_of_the_pool_until_another_lets_them_in(
    channel: grpc.aio.Channel,
    workers: WorkerFactory,
    stack_endpoints: Any,
    kafka_topics: str,
    lab_a: Metadata,
) -> None:
    platform = dg.PlatformServiceStub(channel)
    await define(platform, lab_a)
    worker = await workers("w-quality")
    await worker.hello()
    producer = EventProducer(stack_endpoints.kafka_bootstrap, kafka_topics, "scoring-test")
    await producer.start()
    try:

        async def quality(eligible: bool) -> None:
            change = events_pb2.WorkerEligibilityChanged(
                worker_id="w-quality",
                platform_id="lab-a",
                task_type="image-bbox",
                eligible=eligible,
                quality=0.3 if not eligible else 0.9,
                # The tally version: later estimates count more answers.
                gold_passed=0 if not eligible else 20,
                gold_failed=8,
            )
            await producer.publish("workers.quality", "w-quality", wrap(change, "scoring"))

        await quality(eligible=False)
        await asyncio.sleep(3)  # consumed by now (commit interval 1 s)
        await platform.SubmitTasks(
            d.SubmitTasksRequest(tasks=[new_task("q-1")]), metadata=lab_a, timeout=5
        )
        # Reading on, without cancelling the read (that would end the stream).
        reading = asyncio.create_task(worker.next("offer", wait_s=30))
        done, _ = await asyncio.wait({reading}, timeout=3)
        assert not done, "offered a task of a pool the worker was kept out of"

        await quality(eligible=True)
        offer = (await reading).offer
        assert offer.task_id == task_id_for("lab-a", "q-1")
    finally:
        await producer.stop()
        worker.hang_up()


async def test_a_further_answer_asked_on_kafka_goes_to_another_worker_only(
    channel: grpc.aio.Channel,
    workers: WorkerFactory,
    stack_endpoints: Any,
    kafka_topics: str,
    lab_a: Metadata,
) -> None:
    platform = dg.PlatformServiceStub(channel)
    overlap = events_pb2.Overlap(min_answers=2, max_answers=3, confidence_target=0.9)
    defined = d.TaskType(
        name="vote", purpose=PURPOSE, price_micros=100_000, effort_seconds=20, overlap=overlap
    )
    await platform.DefineTaskType(
        d.DefineTaskTypeRequest(task_type=defined), metadata=lab_a, timeout=5
    )
    submitted = await platform.SubmitTasks(
        d.SubmitTasksRequest(
            tasks=[d.NewTask(client_task_id="v-1", task_type="vote", payload=b"cat?")]
        ),
        metadata=lab_a,
        timeout=5,
    )
    task_id = submitted.tasks[0].task_id
    first = await workers("w-first")
    await first.hello()
    offer = (await first.next("offer")).offer
    await first.send(accept=d.Accept(offer_id=offer.offer_id))
    lease = (await first.next("lease")).lease
    await first.send(submit=d.Submit(lease_id=lease.lease_id, answer=b"yes"))
    await first.next("submit_accepted")

    producer = EventProducer(stack_endpoints.kafka_bootstrap, kafka_topics, "scoring-test")
    await producer.start()
    try:
        wanted = events_pb2.AnswerWanted(
            task_id=task_id,
            platform_id="lab-a",
            answer_number=2,
            answer_task_id=answer_task_id(task_id, 2),
            answered_by=["w-first"],
        )
        for _ in range(2):  # a repeat (scoring re-announcing) queues it once
            await producer.publish("tasks.overlap", task_id, wrap(wanted, "scoring"))
    finally:
        await producer.stop()
    # Reading on, without cancelling the read (that would end the stream).
    reading = asyncio.create_task(first.next("offer", wait_s=30))
    done, _ = await asyncio.wait({reading}, timeout=4)
    assert not done, "the worker who answered was offered the task again"

    second = await workers("w-second")
    await second.hello()
    copy = (await second.next("offer", wait_s=20)).offer
    assert copy.task_id == answer_task_id(task_id, 2)
    assert (copy.payload, copy.price_micros) == (b"cat?", 100_000)
    await second.send(decline=d.Decline(offer_id=copy.offer_id))

    # Cancelling asks for no more answers: the copy stops being offered to anyone.
    cancelled = await platform.CancelTask(
        d.CancelTaskRequest(task_id=task_id, reason="enough"), metadata=lab_a, timeout=5
    )
    assert cancelled.state == d.TASK_STATE_CANCELLED
    # The copy offered and the one never asked for alike.
    for number in (2, 3):
        status = await platform.GetTask(
            d.GetTaskRequest(task_id=answer_task_id(task_id, number)), metadata=lab_a, timeout=5
        )
        assert status.state == d.TASK_STATE_CANCELLED
    first.hang_up()
    second.hang_up()
    reading.cancel()


async def test_a_task_nobody_took_before_its_deadline_expires_and_is_announced(
    channel: grpc.aio.Channel,
    workers: WorkerFactory,
    stack_endpoints: Any,
    kafka_topics: str,
    lab_a: Metadata,
) -> None:
    platform = dg.PlatformServiceStub(channel)
    await define(platform, lab_a, effort_seconds=1)
    deadline = datetime.now(UTC) + timedelta(seconds=3)
    stamp = d.NewTask().deadline
    stamp.FromDatetime(deadline)
    accepted = await platform.SubmitTasks(
        d.SubmitTasksRequest(tasks=[new_task("late-1", deadline=stamp)]),
        metadata=lab_a,
        timeout=5,
    )
    task_id = accepted.tasks[0].task_id

    cancelled = await read_events(
        stack_endpoints.kafka_bootstrap, kafka_topics + "tasks.assigned", 1, "task_cancelled"
    )

    assert datetime.now(UTC) >= deadline
    [event] = cancelled
    assert (event.task_cancelled.task_id, event.task_cancelled.reason) == (
        task_id,
        "deadline passed",
    )
    status = await platform.GetTask(d.GetTaskRequest(task_id=task_id), metadata=lab_a, timeout=5)
    assert status.state == d.TASK_STATE_EXPIRED
    worker = await workers("w-late")
    await worker.hello()
    with pytest.raises(TimeoutError):
        await worker.next("offer", wait_s=1.5)
    worker.hang_up()
