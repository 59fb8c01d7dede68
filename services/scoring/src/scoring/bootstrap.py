"""Scoring's composition root: every adapter is built here and nowhere else."""

from typing import Any

import redis.asyncio as redis

from fairtask.v1 import scoring_pb2, scoring_pb2_grpc
from fairtask_runtime.api_keys import PlatformKeys
from fairtask_runtime.clock import Clock, SystemClock
from fairtask_runtime.grpc.identity import authenticator_for, platform_keys_for
from fairtask_runtime.grpc.server import GrpcServer
from fairtask_runtime.http.app import HttpServer, build_http_app
from fairtask_runtime.kafka.consumer import ConsumerConfig, EventConsumer, Handler
from fairtask_runtime.kafka.dedupe import ProcessedEvents, RedisProcessedEvents
from fairtask_runtime.kafka.dlq import DeadLetters
from fairtask_runtime.kafka.producer import EventProducer
from fairtask_runtime.service import Closer, ServiceRuntime
from scoring.adapters.kafka import KafkaScoredEvents
from scoring.adapters.redis_store import RedisResultLog, RedisScoreMarks, RedisTaskBook
from scoring.config import ScoringSettings
from scoring.entrypoints.consumers import (
    SUBMISSIONS_TOPIC,
    TASKS_TOPIC,
    SubmissionScoring,
    TaskIntake,
)
from scoring.entrypoints.grpc_api import ResultsServicer
from scoring.service_layer.handlers import ScoringHandlers, WatchConfig
from scoring.service_layer.ports import ResultLog, ScoredEvents, ScoreMarks, TaskBook

_RESULTS_SERVICE = scoring_pb2.DESCRIPTOR.services_by_name["ResultsService"].full_name


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
    handlers = ScoringHandlers(
        tasks,
        marks,
        results,
        events,
        clock,
        WatchConfig(batch=settings.watch_batch, block_s=settings.watch_block_s),
    )

    def consumer(group_id: str, topic: str, handler: Handler) -> EventConsumer:
        # One DeadLetters each: poison on one topic must not trip the other's ratio limit.
        return EventConsumer(
            ConsumerConfig(
                bootstrap=settings.kafka_bootstrap,
                group_id=group_id,
                topics=(topic,),
                topic_prefix=settings.topic_prefix,
                commit_interval_s=settings.commit_interval_s,
            ),
            handler,
            DeadLetters(producer, settings.dlq_max_ratio),
            processed=processed,
        )

    platform_keys: PlatformKeys | None = overrides.get("platform_keys")
    if platform_keys is None:
        platform_keys, keys_redis = platform_keys_for(settings, client)
        if keys_redis is not None:
            closers.append(keys_redis.aclose)
    platforms = authenticator_for(platform_keys, settings)
    grpc_server = GrpcServer(
        service_names=[_RESULTS_SERVICE],
        registrars=[
            lambda s: scoring_pb2_grpc.add_ResultsServiceServicer_to_server(
                ResultsServicer(handlers, platforms), s
            )
        ],
    )
    return ServiceRuntime(
        name="scoring",
        grpc=grpc_server,
        http=HttpServer(build_http_app("scoring"), settings.host, settings.http_port),
        producer=producer,
        consumers=[
            consumer("scoring-tasks", TASKS_TOPIC, TaskIntake(handlers)),
            consumer("scoring-submissions", SUBMISSIONS_TOPIC, SubmissionScoring(handlers)),
        ],
        closers=closers,
        grace_s=settings.shutdown_grace_s,
    )
