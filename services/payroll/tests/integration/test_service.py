"""The whole service against real Kafka and PostgreSQL: events in, ledger, events and gRPC out."""

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
import pytest
import redis.asyncio as redis
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import Message
from prometheus_client import REGISTRY
from tenacity import AsyncRetrying, retry_if_result, stop_after_delay, wait_fixed

from fairtask.v1 import envelope_pb2, events_pb2, payroll_pb2, payroll_pb2_grpc
from fairtask_runtime.answers import answer_task_ids
from fairtask_runtime.api_keys import RedisPlatformKeys
from fairtask_runtime.envelope import decode, wrap
from fairtask_runtime.grpc.identity import Metadata, bearer
from fairtask_runtime.kafka.producer import EventProducer
from fairtask_runtime.service import ServiceRuntime
from fairtask_runtime.worker_tokens import JwtTokenCodec, WorkerClaims
from payroll.bootstrap import bootstrap
from payroll.config import PayrollSettings

if TYPE_CHECKING:
    from fairtask.v1.payroll_pb2_grpc import PayrollServiceAsyncStub

pytestmark = pytest.mark.integration

WAIT_S = 60.0
DEADLINE_S = 10.0


TOKEN_SECRET = "payroll-integration-secret-of-32-chars-or-more"


def worker_bearer(worker_id: str) -> Metadata:
    """A worker token as the dispatcher would issue it, signed with the shared secret."""
    now = datetime.now(UTC)
    claims = WorkerClaims(
        worker_id, "ke", "UTC", (), (), False, f"t-{worker_id}", now, now + timedelta(hours=1)
    )
    return bearer(JwtTokenCodec(TOKEN_SECRET).encode(claims))


@dataclass
class Stack:
    runtime: ServiceRuntime
    settings: PayrollSettings
    producer: EventProducer
    operator: Metadata

    @property
    def prefix(self) -> str:
        return self.settings.topic_prefix

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    @property
    def dsn(self) -> str:
        return self.settings.postgres_dsn

    async def send(self, topic: str, key: str, payload: Message) -> envelope_pb2.Envelope:
        envelope = wrap(payload, producer="test")
        await self.producer.publish(topic, key, envelope)
        return envelope

    def stub(self, channel: grpc.aio.Channel) -> "PayrollServiceAsyncStub":
        return payroll_pb2_grpc.PayrollServiceStub(channel)

    def channel(self) -> grpc.aio.Channel:
        assert self.runtime.grpc is not None
        return grpc.aio.insecure_channel(f"127.0.0.1:{self.runtime.grpc.port}")

    async def postings(self) -> int:
        conn = await asyncpg.connect(self.dsn, timeout=DEADLINE_S)
        try:
            count: int = await conn.fetchval("SELECT count(*) FROM postings", timeout=DEADLINE_S)
            return count
        finally:
            await conn.close()

    async def read(self, topic: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
        """The first `count` records of a topic, waiting up to WAIT_S for them."""
        consumer = AIOKafkaConsumer(
            self.prefix + topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        records: list[ConsumerRecord[bytes, bytes]] = []
        try:
            deadline = time.monotonic() + WAIT_S
            while len(records) < count and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                records += [r for rs in batch.values() for r in rs]
        finally:
            await consumer.stop()
        assert len(records) >= count, f"{len(records)} of {count} records on {topic}"
        return records

    async def entries(self, count: int) -> list[events_pb2.PayrollEntryPosted]:
        return [
            decode(r.value).payroll_entry_posted for r in await self.read("payroll.entries", count)
        ]


@pytest.fixture
async def stack(stack_endpoints: Any, kafka_topics: str, payroll_dsn: str) -> AsyncIterator[Stack]:
    settings = PayrollSettings(
        kafka_bootstrap=stack_endpoints.kafka_bootstrap,
        topic_prefix=kafka_topics,
        postgres_dsn=payroll_dsn,
        grpc_port=0,
        http_port=0,
        commit_interval_s=0.2,
        shutdown_grace_s=5.0,
        log_json=False,
        redis_url=stack_endpoints.redis_url,
        platform_keys_prefix=f"{kafka_topics}platform-keys:",
        worker_token_secret=TOKEN_SECRET,
    )
    keys_redis: redis.Redis = redis.from_url(stack_endpoints.redis_url)
    try:
        keys = RedisPlatformKeys(keys_redis, settings.platform_keys_prefix)
        operator = await keys.issue(settings.operator_platform_id, "payroll tests")
    finally:
        await keys_redis.aclose()
    runtime = bootstrap(settings)
    await runtime.start(settings.host, settings.grpc_port, settings.http_port)
    producer = EventProducer(stack_endpoints.kafka_bootstrap, kafka_topics, client_id="test")
    await producer.start()
    stack = Stack(runtime, settings, producer, bearer(operator.key))
    try:
        yield stack
    finally:
        await producer.stop()
        await stack.runtime.stop()


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=DEADLINE_S) as response:
        body: bytes = response.read()
        return body.decode()


def approved(
    submission_id: str,
    worker_id: str = "w-1",
    region: str = "ke",
    price_micros: int = 400_000,
    worked_seconds: int = 90,
) -> events_pb2.SubmissionReviewed:
    return events_pb2.SubmissionReviewed(
        submission_id=submission_id,
        task_id=f"task-{submission_id}",
        worker_id=worker_id,
        region=region,
        platform_id="lab-a",
        task_type="image-bbox",
        state=events_pb2.REVIEW_STATE_APPROVED,
        paid=True,
        price_micros=price_micros,
        worked_seconds=worked_seconds,
    )


def released(lease_id: str, worked_seconds: int) -> events_pb2.LeaseReleased:
    return events_pb2.LeaseReleased(
        lease_id=lease_id,
        task_id=f"task-{lease_id}",
        worker_id="w-2",
        region="ph",
        platform_id="lab-a",
        task_type="image-bbox",
        worked_seconds=worked_seconds,
        reason="disconnect grace expired",
    )


async def test_a_submission_sent_three_times_is_paid_once(stack: Stack) -> None:
    original = wrap(approved("sub-1"), producer="scoring")
    await stack.producer.publish("reviews", "w-1", original)
    await stack.producer.publish("reviews", "w-1", original)
    # The same fact under a new event id, as a scoring replay would produce.
    resent = await stack.send("reviews", "w-1", approved("sub-1"))
    assert resent.event_id != original.event_id

    entries = await stack.entries(3)

    assert await stack.postings() == 1
    assert len({e.entry_id for e in entries}) == 1
    assert {
        (e.worker_id, e.kind, e.amount_micros, e.paid_seconds, e.source_event_id) for e in entries
    } == {("w-1", events_pb2.ENTRY_KIND_TASK_PAY, 400_000, 90, original.event_id)}


async def test_a_released_lease_pays_the_floor_for_the_time_worked(stack: Stack) -> None:
    event = await stack.send("tasks.assigned", "task-lease-1", released("lease-1", 1_234))
    await stack.send(
        "tasks.assigned",
        "task-x",
        events_pb2.TaskAssigned(lease_id="lease-2", task_id="task-x", worker_id="w-2", region="ph"),
    )

    [entry] = await stack.entries(1)

    assert entry.kind == events_pb2.ENTRY_KIND_TIME_WORKED
    assert entry.amount_micros == -(-1_234 * 12_000_000 // 3600) == 4_113_334  # rounded up
    assert entry.paid_seconds == 1_234
    assert entry.source_event_id == event.event_id
    assert await stack.postings() == 1


def onboarding(onboarding_id: str, seconds: int) -> events_pb2.OnboardingCompleted:
    return events_pb2.OnboardingCompleted(
        onboarding_id=onboarding_id,
        worker_id="w-3",
        region="br",
        platform_id="lab-a",
        task_type="image-bbox",
        kind=events_pb2.ONBOARDING_KIND_QUALIFICATION,
        seconds=seconds,
    )


async def ledger_rows(dsn: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """Every posting and line, in a stable order, and the sum of all balances."""
    conn = await asyncpg.connect(dsn, timeout=DEADLINE_S)
    try:
        postings = await conn.fetch(
            "SELECT id, source_key, kind, worker_id, amount_micros, paid_seconds, source_event_id"
            " FROM postings ORDER BY source_key"
        )
        lines = await conn.fetch(
            "SELECT posting_id, account_id, amount_micros FROM ledger_lines"
            " ORDER BY posting_id, account_id"
        )
        total: int = await conn.fetchval("SELECT coalesce(sum(amount_micros), 0) FROM ledger_lines")
    finally:
        await conn.close()
    return [tuple(r) for r in postings], [tuple(r) for r in lines], total


async def test_replaying_every_event_of_a_run_twice_leaves_the_ledger_unchanged(
    stack: Stack,
) -> None:
    run: list[tuple[str, str, Message]] = [
        ("reviews", "w-1", approved("sub-1")),
        # Priced for 90 s but took 10 minutes: task pay plus the platform's top-up.
        ("reviews", "w-1", approved("sub-2", worked_seconds=600)),
        ("tasks.assigned", "task-lease-1", released("lease-1", 1_234)),
        ("tasks.assigned", "task-x", events_pb2.TaskAssigned(lease_id="l-x", task_id="task-x")),
        ("workers.onboarding", "w-3", onboarding("onb-1", 900)),
    ]
    sent = [wrap(payload, producer="test") for _, _, payload in run]
    for (topic, key, _), envelope in zip(run, sent, strict=True):
        await stack.producer.publish(topic, key, envelope)
    first = await stack.entries(5)
    before = await ledger_rows(stack.dsn)

    # Redelivered as they were, then re-sent as the same facts under new event ids.
    for (topic, key, _), envelope in zip(run, sent, strict=True):
        await stack.producer.publish(topic, key, envelope)
    for topic, key, payload in run:
        await stack.send(topic, key, payload)
    # Every replay of a paying event re-announces its entry: all of them handled.
    announced = await stack.entries(15)

    assert await ledger_rows(stack.dsn) == before
    postings, _, total = before
    assert total == 0
    assert sorted((p[1], p[4]) for p in postings) == [
        ("onboarding:onb-1", 3_000_000),  # 15 minutes at $12/h
        ("task_pay:sub-1", 400_000),
        ("task_pay:sub-2", 400_000),
        ("time_worked:lease-1", 4_113_334),
        ("top_up:sub-2", 1_600_000),  # 10 minutes at $12/h is $2.00
    ]
    assert {e.entry_id for e in announced} == {e.entry_id for e in first}


async def test_statement_and_summary_over_grpc(stack: Stack) -> None:
    await stack.send("reviews", "w-1", approved("sub-1"))
    await stack.send("reviews", "w-1", approved("sub-2", price_micros=600_000))
    await stack.send("reviews", "w-3", approved("sub-3", "w-3", "us", 500_000))
    await stack.send("tasks.assigned", "task-lease-1", released("lease-1", 1_800))
    await stack.entries(4)

    async with stack.channel() as channel:
        stub = stack.stub(channel)
        statement = await stub.GetStatement(
            payroll_pb2.GetStatementRequest(worker_id="w-1"),
            metadata=worker_bearer("w-1"),
            timeout=DEADLINE_S,
        )
        summary = await stub.GetLedgerSummary(
            payroll_pb2.GetLedgerSummaryRequest(), metadata=stack.operator, timeout=DEADLINE_S
        )
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetStatement(
                payroll_pb2.GetStatementRequest(worker_id="w-none"),
                metadata=stack.operator,
                timeout=DEADLINE_S,
            )
        with pytest.raises(grpc.aio.AioRpcError) as someone_elses:
            await stub.GetStatement(
                payroll_pb2.GetStatementRequest(worker_id="w-1"),
                metadata=worker_bearer("w-3"),
                timeout=DEADLINE_S,
            )
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stub.GetLedgerSummary(payroll_pb2.GetLedgerSummaryRequest(), timeout=DEADLINE_S)

    assert sorted(line.amount_micros for line in statement.lines) == [400_000, 600_000]
    assert statement.balance_micros == 1_000_000
    assert (statement.tasks_paid, statement.paid_seconds) == (2, 180)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert someone_elses.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert summary.balanced
    assert summary.postings == 4
    assert summary.total_debits_micros == summary.total_credits_micros == 7_500_000
    assert [
        (r.region, r.earnings_micros, r.paid_seconds, r.tasks_paid) for r in summary.regions
    ] == [
        ("ke", 1_000_000, 180, 2),
        ("ph", 6_000_000, 1_800, 0),
        ("us", 500_000, 90, 1),
    ]


async def test_garbage_goes_to_the_dlq_and_payroll_goes_on(stack: Stack) -> None:
    garbage = b"\xff\x00 not an envelope"
    await stack.producer.publish_raw(stack.prefix + "reviews", b"w-1", garbage, headers=[])
    await stack.send("reviews", "w-1", approved("sub-bad", worker_id=""))
    # PostgreSQL cannot store NUL: refused once, instead of failing on every retry.
    await stack.send("reviews", "w-1", approved("sub-nul", worker_id="w\x00"))
    await stack.send("reviews", "w-1", approved("sub-ok"))

    dead = await stack.read("reviews.dlq", 3)
    [entry] = await stack.entries(1)

    assert dead[0].value == garbage
    errors = [dict(r.headers)["error"].decode() for r in dead]
    assert errors[0].startswith("PoisonMessageError: not an Envelope")
    assert "worker_id: is required" in errors[1]
    assert "worker_id: contains a NUL character" in errors[2]
    assert entry.amount_micros == 400_000
    assert await stack.postings() == 1


async def test_metrics_and_health_are_served(stack: Stack) -> None:
    await stack.send("reviews", "w-1", approved("sub-1"))
    await stack.entries(1)
    assert stack.runtime.http is not None
    base = f"http://127.0.0.1:{stack.runtime.http.port}"

    health = json.loads(await asyncio.to_thread(http_get, base + "/healthz"))
    metrics = await asyncio.to_thread(http_get, base + "/metrics/")

    assert health == {"status": "ok"}
    assert 'fairtask_payroll_postings_total{kind="task_pay"}' in metrics
    # The value is process-wide (unit tests count an underpriced task on purpose).
    assert "fairtask_payments_below_floor_total" in metrics


async def test_a_restarted_service_keeps_its_ledger_and_still_pays_once(stack: Stack) -> None:
    first = await stack.send("reviews", "w-1", approved("sub-1"))
    [entry] = await stack.entries(1)
    await stack.runtime.stop()

    # Migrations run again at start-up and find nothing to do; the group resumes.
    stack.runtime = bootstrap(stack.settings)
    await stack.runtime.start(stack.settings.host, 0, 0)
    await stack.send("reviews", "w-1", approved("sub-1"))
    entries = await stack.entries(2)

    assert {e.entry_id for e in entries} == {entry.entry_id}
    assert {e.source_event_id for e in entries} == {first.event_id}
    assert await stack.postings() == 1


async def test_a_hold_whose_task_is_never_published_lapses_and_a_retry_holds_it_again(
    stack: Stack, stack_endpoints: Any
) -> None:
    # A submission whose publish failed after its hold, never retried: nothing would ever
    # spend or release the hold but the sweep.
    await stack.runtime.stop()
    stack.settings = stack.settings.model_copy(
        update={"hold_sweep_s": 0.2, "confirm_holds_within_s": 2.0}
    )
    stack.runtime = bootstrap(stack.settings)
    await stack.runtime.start(stack.settings.host, 0, 0)
    keys_redis: redis.Redis = redis.from_url(stack_endpoints.redis_url)
    try:
        keys = RedisPlatformKeys(keys_redis, stack.settings.platform_keys_prefix)
        platform = bearer((await keys.issue("lab-a", "payroll tests")).key)
    finally:
        await keys_redis.aclose()
    price = 400_000
    copies = answer_task_ids("task-published", 3)
    lapsed_before = lapsed_count()

    def holds(*task_ids: str) -> payroll_pb2.HoldForTasksRequest:
        return payroll_pb2.HoldForTasksRequest(
            platform_id="lab-a",
            holds=[payroll_pb2.TaskHold(task_id=t, amount_micros=price) for t in task_ids],
        )

    async with stack.channel() as channel:
        escrow = payroll_pb2_grpc.EscrowServiceStub(channel)
        await escrow.Deposit(
            payroll_pb2.DepositRequest(deposit_id="d-1", amount_micros=10 * price),
            metadata=platform,
            timeout=DEADLINE_S,
        )
        await escrow.HoldForTasks(
            holds(*copies, "task-lost"), metadata=stack.operator, timeout=DEADLINE_S
        )
        # Published: the task and its further answers' copies stay held.
        await stack.send(
            "tasks.submitted",
            "lab-a/bbox",
            events_pb2.TaskSubmitted(task_id="task-published", platform_id="lab-a"),
        )

        async def held() -> int:
            reply = await escrow.GetEscrow(
                payroll_pb2.GetEscrowRequest(), metadata=platform, timeout=DEADLINE_S
            )
            return reply.escrow.held_micros

        settling = AsyncRetrying(
            stop=stop_after_delay(WAIT_S),
            wait=wait_fixed(0.2),
            retry=retry_if_result(lambda micros: micros != 3 * price),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        assert await settling(held) == 3 * price  # task-lost's hold lapsed, the others stayed
        await asyncio.sleep(2.5)  # past the deadline again: the confirmed ones never lapse
        assert await held() == 3 * price

        # The platform retries the lost task at last: it is held again.
        again = await escrow.HoldForTasks(
            holds("task-lost"), metadata=stack.operator, timeout=DEADLINE_S
        )
        assert again.escrow.held_micros == 4 * price
    assert lapsed_count() == lapsed_before + 1


def lapsed_count() -> float:
    # Process-wide: other tests may have counted lapses before this one.
    return REGISTRY.get_sample_value("fairtask_payroll_holds_lapsed_total") or 0.0
