"""Scoring in-process against real Kafka and Redis: the whole path from events to reviews,
appeals and results."""

import asyncio
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc
import pytest
import redis.asyncio as redis
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from prometheus_client import REGISTRY

from fairtask.v1 import envelope_pb2, events_pb2, scoring_pb2, scoring_pb2_grpc
from fairtask_runtime.answers import answer_task_id
from fairtask_runtime.api_keys import RedisPlatformKeys
from fairtask_runtime.envelope import wrap
from fairtask_runtime.grpc.errors import field_violations_of
from fairtask_runtime.grpc.identity import Metadata, bearer
from fairtask_runtime.grpc.sample_callers import TOKEN_SECRET, worker_token
from fairtask_runtime.kafka.producer import EventProducer
from fairtask_runtime.service import ServiceRuntime
from fairtask_runtime.worker_tokens import JwtTokenCodec
from scoring.bootstrap import bootstrap
from scoring.config import ScoringSettings

if TYPE_CHECKING:
    from fairtask.v1.scoring_pb2_grpc import (
        ResultsServiceAsyncStub,
        ReviewServiceAsyncStub,
        WorkerReviewServiceAsyncStub,
    )

pytestmark = pytest.mark.integration

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@dataclass
class Scoring:
    runtime: ServiceRuntime
    producer: EventProducer
    results: "ResultsServiceAsyncStub"
    reviews: "ReviewServiceAsyncStub"
    workers: "WorkerReviewServiceAsyncStub"
    bootstrap: str
    prefix: str
    keys: RedisPlatformKeys

    async def as_(self, platform_id: str) -> Metadata:
        """Call metadata with a fresh API key of the platform."""
        return bearer((await self.keys.issue(platform_id)).key)

    def as_worker(self, worker_id: str) -> Metadata:
        now = datetime.now(UTC)
        return bearer(worker_token(JwtTokenCodec(TOKEN_SECRET), worker_id, now, timedelta(hours=1)))

    async def pending(self, platform_id: str, *submission_ids: str) -> list[scoring_pb2.Review]:
        """The platform's pending reviews, once every named submission is among them."""
        metadata = await self.as_(platform_id)
        async with asyncio.timeout(60):
            while True:
                page = await self.reviews.ListPendingReviews(
                    scoring_pb2.ListPendingReviewsRequest(), metadata=metadata
                )
                if set(submission_ids) <= {r.submission_id for r in page.reviews}:
                    return list(page.reviews)
                await asyncio.sleep(0.1)

    async def approve(self, platform_id: str, *submission_ids: str) -> None:
        await self.pending(platform_id, *submission_ids)
        metadata = await self.as_(platform_id)
        for submission_id in submission_ids:
            await self.reviews.ReviewSubmission(
                scoring_pb2.ReviewSubmissionRequest(
                    submission_id=submission_id, approve=scoring_pb2.Approve()
                ),
                metadata=metadata,
            )

    async def review_steps(
        self, submission_id: str, until: Callable[[list[events_pb2.SubmissionReviewed]], bool]
    ) -> list[events_pb2.SubmissionReviewed]:
        """The submission's steps on the reviews topic, once `until` holds for them."""

        def steps(records: list[Record]) -> list[events_pb2.SubmissionReviewed]:
            found = [_envelope(r).submission_reviewed for r in records]
            return [step for step in found if step.submission_id == submission_id]

        return steps(await self.records("reviews", lambda rs: until(steps(rs))))

    async def task(self, task_id: str, platform_id: str, gold: str = "") -> None:
        message = events_pb2.TaskSubmitted(
            task_id=task_id,
            platform_id=platform_id,
            client_task_id=f"client-{task_id}",
            task_type="label",
            pool="label/en",
            payload=b"picture",
            gold_answer=gold,
        )
        await self.producer.publish("tasks.submitted", "label/en", wrap(message, "dispatcher"))

    async def submit(
        self, submission_id: str, task_id: str, platform_id: str, answer: bytes, key: str = ""
    ) -> envelope_pb2.Envelope:
        envelope = wrap(_submission(submission_id, task_id, platform_id, answer), "dispatcher")
        await self.producer.publish("submissions", key or task_id, envelope)
        return envelope

    async def records(
        self, topic: str, until: Callable[[list[Record]], bool], timeout_s: float = 60
    ) -> list[Record]:
        """Reads `topic` from the start until `until(records)` holds."""
        consumer = AIOKafkaConsumer(
            self.prefix + topic,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        found: list[Record] = []
        try:
            async with asyncio.timeout(timeout_s):
                while not until(found):
                    batch = await consumer.getmany(timeout_ms=200)
                    for records in batch.values():
                        found += records
        except TimeoutError:
            pytest.fail(f"{topic}: condition not met; got {len(found)} records")
        finally:
            await consumer.stop()
        return found

    async def scored(self, *submission_ids: str) -> dict[str, list[Record]]:
        """Scored events by submission, once every named submission has at least one."""

        def by_id(records: list[Record]) -> dict[str, list[Record]]:
            grouped: dict[str, list[Record]] = {}
            for record in records:
                grouped.setdefault(_scored(record).submission_id, []).append(record)
            return grouped

        records = await self.records(
            "submissions.scored", lambda rs: set(submission_ids) <= set(by_id(rs))
        )
        return by_id(records)


def _submission(
    submission_id: str, task_id: str, platform_id: str, answer: bytes
) -> events_pb2.SubmissionReceived:
    return events_pb2.SubmissionReceived(
        submission_id=submission_id,
        task_id=task_id,
        lease_id=f"lease-{submission_id}",
        worker_id="worker-7",
        region="ke",
        platform_id=platform_id,
        client_task_id=f"client-{task_id}",
        task_type="label",
        answer=answer,
        worked_seconds=75,
        effort_seconds=90,
        price_micros=400_000,
    )


def _envelope(record: Record) -> envelope_pb2.Envelope:
    envelope = envelope_pb2.Envelope()
    envelope.ParseFromString(record.value or b"")
    return envelope


def _scored(record: Record) -> events_pb2.SubmissionScored:
    return _envelope(record).submission_scored


async def _next(call: Any) -> scoring_pb2.WatchResultsResponse:
    response = await asyncio.wait_for(call.read(), 30)
    assert isinstance(response, scoring_pb2.WatchResultsResponse)
    return response


@asynccontextmanager
async def running_scoring(
    stack_endpoints: Any, kafka_topics: str, **overrides: Any
) -> AsyncIterator[Scoring]:
    redis_prefix = f"scoring-test-{uuid.uuid4().hex}:"
    settings = ScoringSettings(
        **{
            "kafka_bootstrap": stack_endpoints.kafka_bootstrap,
            "topic_prefix": kafka_topics,
            "redis_url": stack_endpoints.redis_url,
            "redis_prefix": redis_prefix,
            "host": "127.0.0.1",
            "shutdown_grace_s": 1.0,
            "commit_interval_s": 0.2,
            "watch_block_s": 0.5,
            "platform_keys_prefix": f"{redis_prefix}keys:",
            "revoked_tokens_prefix": f"{redis_prefix}revoked:",
            "worker_token_secret": TOKEN_SECRET,
            "review_sweep_interval_s": 0.2,
            **overrides,
        }
    )
    runtime = bootstrap(settings)
    await runtime.start(settings.host, 0, 0)
    producer = EventProducer(stack_endpoints.kafka_bootstrap, kafka_topics, "scoring-test")
    await producer.start()
    assert runtime.grpc is not None
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runtime.grpc.port}")
    keys_client: redis.Redis = redis.from_url(stack_endpoints.redis_url)
    try:
        yield Scoring(
            runtime,
            producer,
            scoring_pb2_grpc.ResultsServiceStub(channel),
            scoring_pb2_grpc.ReviewServiceStub(channel),
            scoring_pb2_grpc.WorkerReviewServiceStub(channel),
            stack_endpoints.kafka_bootstrap,
            kafka_topics,
            RedisPlatformKeys(keys_client, settings.platform_keys_prefix),
        )
    finally:
        await keys_client.aclose()
        await channel.close()
        await producer.stop()
        await runtime.stop()
        client: redis.Redis = redis.from_url(stack_endpoints.redis_url)
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def scoring(stack_endpoints: Any, kafka_topics: str) -> AsyncIterator[Scoring]:
    async with running_scoring(stack_endpoints, kafka_topics) as running:
        yield running


async def test_submissions_are_scored_and_only_ordinary_results_are_released(
    scoring: Scoring,
) -> None:
    platform = f"p-{uuid.uuid4().hex[:8]}"
    # The submission comes first: scoring retries it until its task has been consumed.
    await scoring.submit("s-ord", "t-ord", platform, b"a cat")
    await scoring.task("t-ord", platform)
    await scoring.task("t-gold", platform, gold="Cat")
    await scoring.submit("s-gold", "t-gold", platform, b"  CAT\n")

    scored = await scoring.scored("s-ord", "s-gold")
    [ordinary], [gold] = scored["s-ord"], scored["s-gold"]
    assert ordinary.key == b"worker-7"
    event = _scored(ordinary)
    assert (event.verdict, event.gold) == (events_pb2.VERDICT_ACCEPTED, False)
    assert (event.task_id, event.worker_id, event.region, event.platform_id) == (
        "t-ord",
        "worker-7",
        "ke",
        platform,
    )
    assert (event.task_type, event.price_micros, event.worked_seconds) == ("label", 400_000, 75)
    assert event.HasField("scored_at")
    assert (_scored(gold).verdict, _scored(gold).gold) == (events_pb2.VERDICT_GOLD_PASSED, True)
    # Gold work is never the platform's to review: only the ordinary submission waits.
    assert [r.submission_id for r in await scoring.pending(platform, "s-ord")] == ["s-ord"]
    await scoring.approve(platform, "s-ord")

    watch = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(), metadata=await scoring.as_(platform)
    )
    first = await _next(watch)
    assert (first.task_id, first.client_task_id, first.answer) == (
        "t-ord",
        "client-t-ord",
        b"a cat",
    )
    assert (first.worker_id, first.task_type) == ("worker-7", "label")
    assert first.cursor
    watch.cancel()

    # A result released after the client went away arrives, alone, when it resumes.
    await scoring.task("t-later", platform)
    await scoring.submit("s-later", "t-later", platform, b"a dog")
    await scoring.approve(platform, "s-later")
    resumed = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(cursor=first.cursor), metadata=await scoring.as_(platform)
    )
    later = await _next(resumed)
    assert later.task_id == "t-later"
    # And the stream stays open for more instead of ending or repeating.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(resumed.read(), 1.5)
    resumed.cancel()

    stranger = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(), metadata=await scoring.as_(f"other-{platform}")
    )
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stranger.read(), 1.5)
    stranger.cancel()


async def test_each_platform_streams_only_its_own_results(scoring: Scoring) -> None:
    mine, theirs = f"p-{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:8]}"
    for task_id, platform in (("t-m1", mine), ("t-o1", theirs), ("t-m2", mine)):
        await scoring.task(task_id, platform)
        await scoring.submit(f"s-{task_id}", task_id, platform, b"answer")
        await scoring.approve(platform, f"s-{task_id}")  # released in this order
    watch_mine = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(), metadata=await scoring.as_(mine)
    )
    watch_theirs = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(), metadata=await scoring.as_(theirs)
    )
    # The other platform's result, released in between, never shows up in my stream.
    assert [(await _next(watch_mine)).task_id for _ in range(2)] == ["t-m1", "t-m2"]
    assert (await _next(watch_theirs)).task_id == "t-o1"
    watch_mine.cancel()
    watch_theirs.cancel()


async def test_a_revoked_key_is_refused_within_seconds_even_on_an_open_stream(
    scoring: Scoring,
) -> None:
    platform = f"p-{uuid.uuid4().hex[:8]}"
    issued = await scoring.keys.issue(platform)
    await scoring.task("t-1", platform)
    await scoring.submit("s-1", "t-1", platform, b"answer")
    await scoring.approve(platform, "s-1")
    open_stream = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(), metadata=bearer(issued.key)
    )
    first = await _next(open_stream)
    assert first.task_id == "t-1"

    await scoring.keys.revoke(issued.key_id)
    revoked_at = asyncio.get_running_loop().time()

    async def refusal() -> grpc.StatusCode | None:
        probe = scoring.results.WatchResults(
            scoring_pb2.WatchResultsRequest(cursor=first.cursor), metadata=bearer(issued.key)
        )
        try:
            # Still accepted: the stream waits for results beyond the cursor.
            await asyncio.wait_for(probe.read(), 0.3)
        except grpc.aio.AioRpcError as refused:
            return refused.code()
        except TimeoutError:
            return None
        finally:
            probe.cancel()
        return None

    while (code := await refusal()) is None:
        # The services trust a verified key for 2 s (platform_key_cache_s).
        assert asyncio.get_running_loop().time() - revoked_at < 4.0, "revocation did not bite"
    assert code is grpc.StatusCode.UNAUTHENTICATED

    # The stream opened before the revocation gets nothing more either.
    await scoring.task("t-2", platform)
    await scoring.submit("s-2", "t-2", platform, b"answer")
    await scoring.approve(platform, "s-2")
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await _next(open_stream)
    assert ended.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_a_malformed_cursor_is_an_invalid_argument(scoring: Scoring) -> None:
    call = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(cursor="0-0; DROP"), metadata=await scoring.as_("p-1")
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await asyncio.wait_for(call.read(), 10)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(raised.value)] == ["cursor"]


async def test_poison_goes_to_the_dlq_and_the_next_message_is_scored(scoring: Scoring) -> None:
    platform = f"p-{uuid.uuid4().hex[:8]}"
    await scoring.task("t-1", platform)
    # Same key as the valid submission: same partition, so it must get past both poisons.
    await scoring.producer.publish_raw(
        scoring.prefix + "submissions", b"t-1", b"\x00 not an envelope", headers=[]
    )
    no_worker = _submission("s-bad", "t-1", platform, b"x")
    no_worker.ClearField("worker_id")
    await scoring.producer.publish("submissions", "t-1", wrap(no_worker, "dispatcher"))
    await scoring.submit("s-good", "t-1", platform, b"fine")

    scored = await scoring.scored("s-good")
    assert "s-bad" not in scored
    dead = await scoring.records("submissions.dlq", lambda rs: len(rs) >= 2)
    assert dead[0].value == b"\x00 not an envelope"
    errors = [dict(r.headers)["error"].decode() for r in dead]
    assert "PoisonMessageError" in errors[0]
    assert "worker_id" in errors[1]


async def test_a_duplicate_envelope_is_handled_once(scoring: Scoring) -> None:
    platform = f"p-{uuid.uuid4().hex[:8]}"
    topic = scoring.prefix + "submissions"
    await scoring.task("t-1", platform)
    envelope = await scoring.submit("s-1", "t-1", platform, b"once")
    await scoring.producer.publish("submissions", "t-1", envelope)
    # A later submission on the same partition and worker: once it is scored, the duplicate
    # has been through the consumer too.
    await scoring.task("t-2", platform)
    await scoring.submit("s-2", "t-2", platform, b"after", key="t-1")

    scored = await scoring.scored("s-1", "s-2")
    assert len(scored["s-1"]) == 1
    duplicates = REGISTRY.get_sample_value(
        "fairtask_kafka_messages_total", {"topic": topic, "outcome": "duplicate"}
    )
    assert duplicates == 1

    await scoring.approve(platform, "s-1", "s-2")
    watch = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(), metadata=await scoring.as_(platform)
    )
    assert [(await _next(watch)).task_id, (await _next(watch)).task_id] == ["t-1", "t-2"]
    watch.cancel()


async def test_metrics_and_health_are_served(scoring: Scoring) -> None:
    assert scoring.runtime.http is not None
    base = f"http://127.0.0.1:{scoring.runtime.http.port}"

    def get(path: str) -> tuple[int, str]:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            return response.status, response.read().decode()

    assert await asyncio.to_thread(get, "/healthz") == (200, '{"status":"ok"}')
    status, body = await asyncio.to_thread(get, "/metrics/")
    assert status == 200
    assert 'fairtask_submissions_scored_total{verdict="gold_failed"}' in body
    assert "fairtask_results_released_total" in body


WHY = (
    "The answer names the wrong animal: the picture shows a dog in the foreground, and the "
    "instructions ask for the animal in the foreground, not the cat on the poster behind it."
)


async def test_a_rejection_is_appealed_granted_paid_and_released(scoring: Scoring) -> None:
    platform = f"p-{uuid.uuid4().hex[:8]}"
    await scoring.task("t-1", platform)
    await scoring.submit("s-1", "t-1", platform, b"a cat")
    [pending] = await scoring.pending(platform, "s-1")
    assert (pending.answer, pending.worker_id, pending.price_micros) == (
        b"a cat",
        "worker-7",
        400_000,
    )
    metadata = await scoring.as_(platform)

    rejected = await scoring.reviews.ReviewSubmission(
        scoring_pb2.ReviewSubmissionRequest(
            submission_id="s-1",
            reject=scoring_pb2.Reject(
                reason=events_pb2.REJECTION_REASON_WRONG_ANSWER, explanation=WHY
            ),
        ),
        metadata=metadata,
    )
    assert (rejected.review.state, rejected.review.paid) == (
        events_pb2.REVIEW_STATE_REJECTED,
        False,
    )
    worker = scoring.as_worker("worker-7")
    mine = await scoring.workers.ListMyReviews(scoring_pb2.ListMyReviewsRequest(), metadata=worker)
    [seen] = mine.reviews
    assert (seen.reason, seen.explanation) == (events_pb2.REJECTION_REASON_WRONG_ANSWER, WHY)
    assert seen.appeal_until.ToDatetime() - seen.decided_at.ToDatetime() == timedelta(days=7)

    await scoring.workers.AppealRejection(
        scoring_pb2.AppealRejectionRequest(submission_id="s-1", statement="It is a cat."),
        metadata=worker,
    )
    appeals = await scoring.reviews.ListOpenAppeals(
        scoring_pb2.ListOpenAppealsRequest(), metadata=metadata
    )
    assert [(a.submission_id, a.appeal_statement) for a in appeals.reviews] == [
        ("s-1", "It is a cat.")
    ]
    await scoring.reviews.AnswerAppeal(
        scoring_pb2.AnswerAppealRequest(submission_id="s-1", grant=True), metadata=metadata
    )

    steps = await scoring.review_steps("s-1", lambda s: len(s) >= 4)
    assert [(s.state, s.paid) for s in steps] == [
        (events_pb2.REVIEW_STATE_PENDING, False),
        (events_pb2.REVIEW_STATE_REJECTED, False),
        (events_pb2.REVIEW_STATE_APPEALED, False),
        (events_pb2.REVIEW_STATE_APPEAL_GRANTED, True),
    ]
    assert steps[-1].price_micros == 400_000
    watch = scoring.results.WatchResults(scoring_pb2.WatchResultsRequest(), metadata=metadata)
    assert (await _next(watch)).task_id == "t-1"
    watch.cancel()


async def test_nobody_reviews_appeals_or_reads_what_is_not_theirs(scoring: Scoring) -> None:
    owner, other = f"p-{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:8]}"
    await scoring.task("t-1", owner)
    await scoring.submit("s-1", "t-1", owner, b"a cat")
    await scoring.pending(owner, "s-1")
    stranger = await scoring.as_(other)

    assert (
        await scoring.reviews.ListPendingReviews(
            scoring_pb2.ListPendingReviewsRequest(), metadata=stranger
        )
    ).reviews == []
    for call in (
        scoring.reviews.ReviewSubmission(
            scoring_pb2.ReviewSubmissionRequest(submission_id="s-1", approve=scoring_pb2.Approve()),
            metadata=stranger,
        ),
        scoring.reviews.AnswerAppeal(
            scoring_pb2.AnswerAppealRequest(submission_id="s-1", grant=False, explanation=WHY),
            metadata=stranger,
        ),
        scoring.workers.AppealRejection(
            scoring_pb2.AppealRejectionRequest(submission_id="s-1", statement="mine?"),
            metadata=scoring.as_worker("worker-8"),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND
    assert (
        await scoring.workers.ListMyReviews(
            scoring_pb2.ListMyReviewsRequest(), metadata=scoring.as_worker("worker-8")
        )
    ).reviews == []
    # A platform key is not a worker's token, and a worker's token is not a platform key.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await scoring.workers.ListMyReviews(scoring_pb2.ListMyReviewsRequest(), metadata=stranger)
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await scoring.reviews.ListPendingReviews(
            scoring_pb2.ListPendingReviewsRequest(), metadata=scoring.as_worker("worker-7")
        )
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    [still] = await scoring.pending(owner, "s-1")
    assert still.state == events_pb2.REVIEW_STATE_PENDING


@pytest.mark.parametrize(
    ("reject", "field"),
    [
        (scoring_pb2.Reject(explanation=WHY), "reason"),
        (
            scoring_pb2.Reject(reason=events_pb2.REJECTION_REASON_INCOMPLETE, explanation="bad"),
            "explanation",
        ),
        (scoring_pb2.Reject(reason=99, explanation=WHY), "reason"),
    ],
)
async def test_a_rejection_without_a_reason_or_explanation_is_refused_and_changes_nothing(
    scoring: Scoring, reject: scoring_pb2.Reject, field: str
) -> None:
    platform = f"p-{uuid.uuid4().hex[:8]}"
    await scoring.task("t-1", platform)
    await scoring.submit("s-1", "t-1", platform, b"a cat")
    await scoring.pending(platform, "s-1")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await scoring.reviews.ReviewSubmission(
            scoring_pb2.ReviewSubmissionRequest(submission_id="s-1", reject=reject),
            metadata=await scoring.as_(platform),
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(refused.value)] == [field]
    [still] = await scoring.pending(platform, "s-1")
    assert still.state == events_pb2.REVIEW_STATE_PENDING


async def test_deadlines_approve_unreviewed_work_and_grant_unanswered_appeals(
    stack_endpoints: Any, kafka_topics: str
) -> None:
    async with running_scoring(
        stack_endpoints, kafka_topics, review_window_s=3.0, appeal_answer_window_s=1.0
    ) as scoring:
        platform = f"p-{uuid.uuid4().hex[:8]}"
        await scoring.task("t-late", platform)
        await scoring.task("t-appeal", platform)
        await scoring.submit("s-late", "t-late", platform, b"a cat")
        await scoring.submit("s-appeal", "t-appeal", platform, b"a dog")
        await scoring.pending(platform, "s-late", "s-appeal")
        await scoring.reviews.ReviewSubmission(
            scoring_pb2.ReviewSubmissionRequest(
                submission_id="s-appeal",
                reject=scoring_pb2.Reject(
                    reason=events_pb2.REJECTION_REASON_COPIED, explanation=WHY
                ),
            ),
            metadata=await scoring.as_(platform),
        )
        await scoring.workers.AppealRejection(
            scoring_pb2.AppealRejectionRequest(submission_id="s-appeal", statement="Mine."),
            metadata=scoring.as_worker("worker-7"),
        )

        late = await scoring.review_steps("s-late", lambda s: len(s) >= 2)
        appealed = await scoring.review_steps("s-appeal", lambda s: len(s) >= 4)
        assert (late[-1].state, late[-1].automatic, late[-1].paid) == (
            events_pb2.REVIEW_STATE_APPROVED,
            True,
            True,
        )
        assert (appealed[-1].state, appealed[-1].automatic, appealed[-1].paid) == (
            events_pb2.REVIEW_STATE_APPEAL_GRANTED,
            True,
            True,
        )
        watch = scoring.results.WatchResults(
            scoring_pb2.WatchResultsRequest(), metadata=await scoring.as_(platform)
        )
        released = {(await _next(watch)).task_id for _ in range(2)}
        assert released == {"t-late", "t-appeal"}
        watch.cancel()


async def test_failed_gold_answers_keep_the_worker_out_of_the_pool_on_workers_quality(
    scoring: Scoring,
) -> None:
    platform = f"p-{uuid.uuid4().hex[:8]}"
    await scoring.task("t-gold", platform, gold="Cat")
    for i in range(8):
        await scoring.submit(f"s-{i}", "t-gold", platform, b"dog")

    def changes(records: list[Record]) -> list[events_pb2.WorkerEligibilityChanged]:
        found = [_envelope(r).worker_eligibility_changed for r in records]
        return [c for c in found if c.platform_id == platform]

    [change] = changes(await scoring.records("workers.quality", lambda rs: bool(changes(rs))))
    assert (change.worker_id, change.task_type, change.eligible) == ("worker-7", "label", False)
    assert change.gold_passed == 0
    assert 0 < change.quality < 0.6


async def test_several_answers_ask_one_more_settle_and_release_the_aggregate_last(
    scoring: Scoring,
) -> None:
    platform = f"p-{uuid.uuid4().hex[:8]}"
    overlap = events_pb2.Overlap(min_answers=2, max_answers=3, confidence_target=0.8)
    task = events_pb2.TaskSubmitted(
        task_id="t-many",
        platform_id=platform,
        client_task_id="client-many",
        task_type="label",
        pool="label/en",
        payload=b"picture",
        overlap=overlap,
    )
    await scoring.producer.publish("tasks.submitted", "label/en", wrap(task, "dispatcher"))
    first = _submission("s-1", "t-many", platform, b"Yes")
    first.worker_id = "worker-1"
    await scoring.producer.publish("submissions", "t-many", wrap(first, "dispatcher"))

    def steps(records: list[Record], kind: str) -> list[envelope_pb2.Envelope]:
        return [e for e in map(_envelope, records) if e.WhichOneof("payload") == kind]

    found = await scoring.records("tasks.overlap", lambda rs: bool(steps(rs, "answer_wanted")))
    assert [r.key for r in found] == [b"t-many"]
    wanted = steps(found, "answer_wanted")[0].answer_wanted
    copy_id = answer_task_id("t-many", 2)
    assert (wanted.task_id, wanted.platform_id, wanted.answer_number) == ("t-many", platform, 2)
    assert (wanted.answer_task_id, list(wanted.answered_by)) == (copy_id, ["worker-1"])

    # The dispatcher's part: the copy is queued, and a second worker answers it.
    copy = events_pb2.TaskSubmitted()
    copy.CopyFrom(task)
    copy.task_id, copy.answer_of, copy.answer_number = copy_id, "t-many", 2
    copy.answered_by.append("worker-1")
    await scoring.producer.publish("tasks.submitted", "label/en", wrap(copy, "dispatcher"))
    second = _submission("s-2", copy_id, platform, b"yes ")
    second.worker_id = "worker-2"
    await scoring.producer.publish("submissions", copy_id, wrap(second, "dispatcher"))

    found = await scoring.records("tasks.overlap", lambda rs: bool(steps(rs, "answers_aggregated")))
    [aggregated_envelope] = steps(found, "answers_aggregated")
    aggregated = aggregated_envelope.answers_aggregated
    # Compared without case or spaces, returned as the first worker spelled it.
    assert (aggregated.task_id, aggregated.client_task_id, aggregated.answer) == (
        "t-many",
        "client-many",
        "Yes",
    )
    assert (aggregated.answers, aggregated.confident) == (2, True)
    assert list(aggregated.submission_ids) == ["s-1", "s-2"]
    assert list(aggregated.unused_task_ids) == [answer_task_id("t-many", 3)]
    assert len(steps(found, "answer_wanted")) == 1

    # Each answer is reviewed on its own, under the id escrow is held by.
    pending = await scoring.pending(platform, "s-1", "s-2")
    assert {r.submission_id: r.task_id for r in pending} == {"s-1": "t-many", "s-2": copy_id}
    watch = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(), metadata=await scoring.as_(platform)
    )
    await scoring.approve(platform, "s-2")
    answer = await _next(watch)
    assert (answer.task_id, answer.worker_id, answer.aggregate) == ("t-many", "worker-2", False)
    # Not released while one of its answers is withheld.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(watch.read(), 1.0)
    watch.cancel()
    await scoring.approve(platform, "s-1")
    resumed = scoring.results.WatchResults(
        scoring_pb2.WatchResultsRequest(cursor=answer.cursor),
        metadata=await scoring.as_(platform),
    )
    last_answer, aggregate = await _next(resumed), await _next(resumed)
    assert (last_answer.task_id, last_answer.worker_id) == ("t-many", "worker-1")
    assert (aggregate.aggregate, aggregate.task_id, aggregate.worker_id) == (True, "t-many", "")
    assert (aggregate.answer, aggregate.answers, aggregate.confident) == (b"Yes", 2, True)
    assert aggregate.confidence == pytest.approx(0.49 / 0.58)
    resumed.cancel()
