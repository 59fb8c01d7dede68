"""Scoring's composition root: every adapter is built here and nowhere else."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import redis.asyncio as redis
import structlog

from fairtask.v1 import scoring_pb2, scoring_pb2_grpc
from fairtask_runtime.api_keys import PlatformKeys
from fairtask_runtime.clock import Clock, SystemClock
from fairtask_runtime.grpc.callers import callers_for
from fairtask_runtime.grpc.identity import authenticator_for, platform_keys_for
from fairtask_runtime.grpc.server import GrpcServer
from fairtask_runtime.http.app import HttpServer, build_http_app
from fairtask_runtime.kafka.consumer import ConsumerConfig, EventConsumer, Handler
from fairtask_runtime.kafka.dedupe import (
    MemoryProcessedEvents,
    ProcessedEvents,
    RedisProcessedEvents,
)
from fairtask_runtime.kafka.dlq import DeadLetters
from fairtask_runtime.kafka.producer import EventProducer
from fairtask_runtime.service import Closer, Loop, ServiceRuntime
from scoring.adapters.kafka import (
    KafkaOverlapEvents,
    KafkaQualityEvents,
    KafkaReviewEvents,
    KafkaScoredEvents,
)
from scoring.adapters.redis_answers import RedisAnswerBook
from scoring.adapters.redis_quality import RedisQualityBook
from scoring.adapters.redis_reviews import RedisReviewBook
from scoring.adapters.redis_store import RedisResultLog, RedisScoreMarks, RedisTaskBook
from scoring.config import ScoringSettings
from scoring.domain.quality import EligibilityRule
from scoring.domain.reviews import ReviewRules
from scoring.entrypoints.consumers import (
    ASSIGNMENTS_TOPIC,
    SUBMISSIONS_TOPIC,
    TASKS_TOPIC,
    SubmissionScoring,
    TaskIntake,
    WithdrawnAnswers,
)
from scoring.entrypoints.grpc_api import ResultsServicer
from scoring.entrypoints.grpc_reviews import ReviewServicer, WorkerReviewServicer
from scoring.service_layer.handlers import ScoringHandlers, WatchConfig
from scoring.service_layer.overlap import OverlapHandlers, OverlapSweepConfig
from scoring.service_layer.ports import ResultLog, ScoredEvents, ScoreMarks, TaskBook
from scoring.service_layer.quality import QualityHandlers
from scoring.service_layer.reviews import ReviewHandlers

log = structlog.get_logger(__name__)

_SERVICES = [
    scoring_pb2.DESCRIPTOR.services_by_name[name].full_name
    for name in ("ResultsService", "ReviewService", "WorkerReviewService")
]


def bootstrap(settings: ScoringSettings, **overrides: Any) -> ServiceRuntime:
    """Wires the service; nothing connects until `start()`.

    Overrides (for tests): redis, clock, tasks, marks, results, events, processed,
    platform_keys.
    """
    closers: list[Closer] = []
    client: redis.Redis | None = overrides.get("redis")
    if client is None:
        client = redis.from_url(settings.redis_url)
        closers.append(client.aclose)
    prefix = settings.redis_prefix
    clock: Clock = overrides.get("clock") or SystemClock()
    producer = EventProducer(settings.kafka_bootstrap, settings.topic_prefix, "scoring")
    tasks: TaskBook = overrides.get("tasks") or RedisTaskBook(client, prefix)
    marks: ScoreMarks = overrides.get("marks") or RedisScoreMarks(client, prefix)
    results: ResultLog = overrides.get("results") or RedisResultLog(client, prefix)
    events: ScoredEvents = overrides.get("events") or KafkaScoredEvents(producer)
    processed: ProcessedEvents = overrides.get("processed") or RedisProcessedEvents(
        client, prefix.rstrip(":")
    )
    quality = QualityHandlers(
        RedisQualityBook(client, prefix),
        KafkaQualityEvents(producer),
        clock,
        EligibilityRule(min_quality=settings.min_quality, min_gold=settings.min_gold_answers),
    )
    overlap = OverlapHandlers(
        RedisAnswerBook(client, prefix),
        KafkaOverlapEvents(producer),
        results,
        quality,
        clock,
        OverlapSweepConfig(
            release_recheck_after=timedelta(seconds=settings.aggregate_release_recheck_s)
        ),
    )
    reviews = ReviewHandlers(
        RedisReviewBook(client, prefix),
        KafkaReviewEvents(producer),
        clock,
        ReviewRules(
            review_window=timedelta(seconds=settings.review_window_s),
            appeal_window=timedelta(seconds=settings.appeal_window_s),
            appeal_answer_window=timedelta(seconds=settings.appeal_answer_window_s),
        ),
        answer_released=overlap.result_released,
    )
    handlers = ScoringHandlers(
        tasks,
        marks,
        results,
        events,
        reviews,
        quality,
        overlap,
        clock,
        WatchConfig(batch=settings.watch_batch, block_s=settings.watch_block_s),
    )

    def consumer(group_id: str, topic: str, handler: Handler) -> EventConsumer:
        # One DeadLetters each: poison on one topic must not trip the other's ratio limit.
        return EventConsumer(
            ConsumerConfig.of_service(settings, group_id, (topic,)),
            handler,
            DeadLetters(producer, settings.dlq_max_ratio),
            processed=processed,
        )

    platform_keys: PlatformKeys | None = overrides.get("platform_keys")
    keys_redis: redis.Redis | None = None
    if platform_keys is None:
        platform_keys, keys_redis = platform_keys_for(settings, client)
        if keys_redis is not None:
            closers.append(keys_redis.aclose)
    platforms = authenticator_for(platform_keys, settings)
    # Revoked worker tokens live with the platform keys, where every service checks them.
    callers = callers_for(settings, platforms, clock, keys_redis or client)
    grpc_server = GrpcServer(
        service_names=_SERVICES,
        registrars=[
            lambda s: scoring_pb2_grpc.add_ResultsServiceServicer_to_server(
                ResultsServicer(handlers, platforms), s
            ),
            lambda s: scoring_pb2_grpc.add_ReviewServiceServicer_to_server(
                ReviewServicer(reviews, platforms), s
            ),
            lambda s: scoring_pb2_grpc.add_WorkerReviewServiceServicer_to_server(
                WorkerReviewServicer(reviews, callers), s
            ),
        ],
    )
    return ServiceRuntime(
        name="scoring",
        grpc=grpc_server,
        http=HttpServer(
            build_http_app("scoring"), settings.host, settings.http_port, settings.shutdown_grace_s
        ),
        producer=producer,
        consumers=[
            consumer("scoring-tasks", TASKS_TOPIC, TaskIntake(handlers)),
            consumer("scoring-submissions", SUBMISSIONS_TOPIC, SubmissionScoring(handlers)),
            _withdrawn_answers(settings, handlers, producer),
        ],
        loops=[
            _sweeping("review", reviews.sweep, settings.review_sweep_interval_s),
            _sweeping("overlap", overlap.sweep, settings.review_sweep_interval_s),
        ],
        closers=closers,
        grace_s=settings.shutdown_grace_s,
    )


def _withdrawn_answers(
    settings: ScoringSettings, handlers: ScoringHandlers, producer: EventProducer
) -> EventConsumer:
    """Reads every offer and lease event to find the few cancellations of further answers, so
    its handled events are remembered in memory only (the handler is idempotent): a Redis key
    per offer would cost more than a redelivery does. A new group starts at the topic's end:
    reading a week of offers on the upgrade that adds it would take days at full load, for
    the few tasks it could settle."""
    withdrawn = WithdrawnAnswers(handlers)
    return EventConsumer(
        ConsumerConfig.of_service(
            settings, "scoring-withdrawals", (ASSIGNMENTS_TOPIC,), start_at="latest"
        ),
        withdrawn,
        DeadLetters(producer, settings.dlq_max_ratio),
        processed=MemoryProcessedEvents(),
        batch_handler=withdrawn.batch,
    )


def _sweeping(name: str, sweep: Callable[[], Awaitable[int]], interval_s: float) -> Loop:
    async def sweep_forever() -> None:
        """Deadlines decide late reviews and appeals (review), lost announcements and
        releases are made (both); a failed round (Redis or Kafka away) is logged and tried
        again at the next."""
        while True:
            try:
                await sweep()
            except Exception as error:
                log.warning(f"{name} sweep failed", error=str(error))
            await asyncio.sleep(interval_s)

    return sweep_forever
