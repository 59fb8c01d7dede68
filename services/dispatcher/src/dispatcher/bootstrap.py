"""The dispatcher's composition root: every adapter is built here and nowhere else."""

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
import structlog

from dispatcher.adapters.kafka import KafkaEventPublisher, PoolOwnership
from dispatcher.adapters.payroll_escrow import PayrollEscrow, UncheckedEscrow
from dispatcher.adapters.postgres_client_tasks import DEFAULT_MIGRATIONS, PostgresClientTaskIds
from dispatcher.adapters.redis_client_hashes import RedisClientHashes, WithRedisHashes
from dispatcher.adapters.redis_exclusions import RedisPoolExclusions
from dispatcher.adapters.redis_log import RedisTransitionLog
from dispatcher.adapters.redis_store import RedisTaskStore, RedisTaskTypes
from dispatcher.adapters.task_cache import TaskCache
from dispatcher.adapters.worker_records import GrpcWorkerRecords
from dispatcher.adapters.worker_registry import RedisWorkerRegistry
from dispatcher.config import DispatcherSettings
from dispatcher.domain.errors import SubmissionsUnavailableError
from dispatcher.domain.scheduling.fair_share import FairScheduler
from dispatcher.domain.scheduling.gold_mixing import GoldMixing
from dispatcher.domain.validation import Limits
from dispatcher.entrypoints.consumers import (
    AnswerRequests,
    QualityUpdates,
    TaskIngest,
    TaskOutcomes,
)
from dispatcher.entrypoints.grpc_platform import PlatformServicer
from dispatcher.entrypoints.grpc_worker import WorkerServicer
from dispatcher.entrypoints.http_records import records_router
from dispatcher.entrypoints.http_worker import worker_router
from dispatcher.entrypoints.page import mount_worker_page
from dispatcher.entrypoints.worker_connections import (
    TransportConfig,
    WorkerConnections,
    WorkerHttpServer,
)
from dispatcher.service_layer.auth import WorkerAuth, WorkerRegistry
from dispatcher.service_layer.dispatch import Dispatch, DispatchConfig
from dispatcher.service_layer.platform import BacklogBound, PlatformHandlers
from dispatcher.service_layer.ports import (
    ClientTaskIds,
    Escrow,
    EventPublisher,
    PoolExclusions,
    TaskStore,
    TaskTypeStore,
    TransitionLog,
    WorkerRecords,
)
from dispatcher.service_layer.replication import Replication, ReplicationConfig
from fairtask.v1 import dispatcher_pb2, dispatcher_pb2_grpc
from fairtask_runtime.api_keys import PlatformKeys
from fairtask_runtime.clock import Clock, SystemClock
from fairtask_runtime.envelope import new_event_id
from fairtask_runtime.grpc.identity import authenticator_for, platform_keys_for
from fairtask_runtime.grpc.server import GrpcServer
from fairtask_runtime.http.app import build_http_app
from fairtask_runtime.kafka.consumer import BatchHandler, ConsumerConfig, EventConsumer, Handler
from fairtask_runtime.kafka.dlq import DeadLetters
from fairtask_runtime.kafka.producer import EventProducer
from fairtask_runtime.postgres import PostgresConfig, PostgresPool
from fairtask_runtime.rate_limits import RateLimit
from fairtask_runtime.redis_pool import blocking_pool
from fairtask_runtime.revoked_tokens import RedisRevokedTokens
from fairtask_runtime.service import Closer, Loop, ServiceRuntime, opened_at_start
from fairtask_runtime.worker_tokens import codec_for

log = structlog.get_logger(__name__)


@dataclass
class Dispatcher:
    runtime: ServiceRuntime
    dispatch: Dispatch
    replication: Replication
    platform: PlatformHandlers
    auth: WorkerAuth
    # Where the platforms' API keys are checked: tests issue their keys here.
    platform_keys: PlatformKeys


def bootstrap(settings: DispatcherSettings, **overrides: Any) -> Dispatcher:
    """Wires the service; nothing connects until `runtime.start()`."""
    client: redis.Redis = overrides.get("redis") or redis.Redis(
        # Blocking: a burst of worker messages waits for a free connection; the default pool
        # raises MaxConnectionsError past 100 at once, which killed the task consumer under load.
        connection_pool=blocking_pool(
            settings.redis_url, settings.redis_max_connections, settings.redis_pool_timeout_s
        )
    )
    clock: Clock = overrides.get("clock") or SystemClock()
    producer = EventProducer(settings.kafka_bootstrap, settings.topic_prefix, "dispatcher")
    events: EventPublisher = overrides.get("events") or KafkaEventPublisher(producer)
    # New with every start: the log and the store tell this run's doings from a previous one's.
    replica_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    # Shared: a task decoded for its offer is not decoded again for its lease or log entries.
    decoded = TaskCache()
    tasks: TaskStore = overrides.get("tasks") or RedisTaskStore(
        client,
        settings.redis_prefix,
        replica_id,
        decoded,
        settings.finished_task_kept_s,
        settings.unsettled_task_kept_s,
    )
    transitions: TransitionLog = overrides.get("transitions") or RedisTransitionLog(
        client, settings.redis_prefix, decoded
    )
    task_types: TaskTypeStore = overrides.get("task_types") or RedisTaskTypes(
        client, settings.redis_prefix
    )
    exclusions: PoolExclusions = overrides.get("exclusions") or RedisPoolExclusions(
        client, settings.redis_prefix
    )
    dispatch = Dispatch(
        tasks,
        clock,
        DispatchConfig(
            offer_ttl_s=settings.offer_ttl_s,
            grace_s=settings.grace_s,
            heartbeat_interval_s=settings.heartbeat_interval_s,
        ),
        new_id=new_event_id,
        new_policy=overrides.get("new_policy")
        or (
            lambda: GoldMixing(
                FairScheduler(offer_ttl_s=settings.offer_ttl_s),
                settings.gold_mix_rate,
                settings.gold_idle_release_s,
            )
        ),
        replica_id=replica_id,
        # Pools come with the partitions of tasks.submitted the consumer group assigns.
        owns_every_pool=False,
        exclusions=exclusions,
    )
    replication = Replication(
        dispatch,
        tasks,
        transitions,
        events,
        clock,
        ReplicationConfig(replica_ttl_s=settings.replica_ttl_s),
    )
    platform_keys: PlatformKeys | None = overrides.get("platform_keys")
    keys_redis: redis.Redis | None = None
    if platform_keys is None:
        platform_keys, keys_redis = platform_keys_for(settings, client)
    # Revoked worker tokens live with the platform keys, where every service can check them.
    revoked = RedisRevokedTokens(keys_redis or client, settings.revoked_tokens_prefix)
    registry: WorkerRegistry = overrides.get("worker_registry") or RedisWorkerRegistry(
        client, settings.redis_prefix, revoked
    )
    auth = WorkerAuth(
        codec_for(settings.worker_token_secret),
        registry,
        clock,
        settings.worker_token_ttl_s,
        new_id=new_event_id,
    )
    closers: list[Closer] = [replication.leave, client.aclose]
    if keys_redis is not None:
        closers.append(keys_redis.aclose)
    escrow: Escrow | None = overrides.get("escrow")
    if escrow is None:
        escrow = _escrow(settings, closers)
    client_tasks: ClientTaskIds | None = overrides.get("client_tasks")
    loops: list[Loop] = []
    if client_tasks is None:
        client_tasks = _client_tasks(settings, client, closers, loops)
    platform = PlatformHandlers(
        task_types,
        tasks,
        client_tasks,
        events,
        clock,
        Limits(),
        on_cancelled=dispatch.task_cancelled,
        escrow=escrow,
        backlog=BacklogBound(settings.platform_backlog_max, settings.backlog_retry_after_s),
        pay_floor_micros_per_hour=settings.pay_floor_micros_per_hour,
    )
    # One budget per worker, whichever transports they use.
    worker_limit = RateLimit(settings.worker_rate_limit)
    platforms = authenticator_for(platform_keys, settings)
    grpc_server = GrpcServer(
        service_names=[
            dispatcher_pb2.DESCRIPTOR.services_by_name["PlatformService"].full_name,
            dispatcher_pb2.DESCRIPTOR.services_by_name["WorkerService"].full_name,
        ],
        registrars=[
            lambda s: dispatcher_pb2_grpc.add_PlatformServiceServicer_to_server(
                PlatformServicer(platform, platforms), s
            ),
            lambda s: dispatcher_pb2_grpc.add_WorkerServiceServicer_to_server(
                WorkerServicer(dispatch, auth, settings.hello_timeout_s, worker_limit), s
            ),
        ],
    )
    submitted = settings.topic_prefix + "tasks.submitted"
    ownership = PoolOwnership(
        submitted,
        dispatch.ownership.pause,
        dispatch.ownership.own,
        partitions_of=lambda topic: consumer.kafka.partitions_for_topic(topic),
    )
    session_timeout_ms = int(settings.consumer_session_timeout_s * 1000)
    ingest = TaskIngest(dispatch)
    consumer = EventConsumer(
        ConsumerConfig.of_service(
            settings,
            "dispatcher",
            ("tasks.submitted",),
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(session_timeout_ms // 3, 100),
        ),
        ingest,
        DeadLetters(producer, settings.dlq_max_ratio),
        # No store of handled events in Redis: the task store tells a task delivered again
        # apart by its id, whatever became of it since, so that store would only cost two
        # round trips per batch (per task at a trickle). Repeats within this process are
        # still skipped in memory.
        batch_handler=ingest.many,
        on_assigned=ownership.assigned,
        on_revoked=ownership.revoked,
    )
    # One replica applies each quality change and records it in Redis; the others pick it up
    # by reloading (run_exclusions) and at the worker's next connection.
    quality = _side_consumer(
        settings, producer, "dispatcher-quality", "workers.quality", QualityUpdates(dispatch)
    )
    # Any replica queues a further answer: it goes out on tasks.submitted to the pool's owner.
    answers = _side_consumer(
        settings, producer, "dispatcher-answers", "tasks.overlap", AnswerRequests(platform)
    )
    # What became of each task, into PostgreSQL, for GetTask after Redis forgets it.
    recorded_outcomes = TaskOutcomes(platform)
    outcomes = _side_consumer(
        settings,
        producer,
        "dispatcher-outcomes",
        ("submissions", "tasks.assigned"),
        recorded_outcomes,
        recorded_outcomes.many,
    )
    connections = WorkerConnections(dispatch, worker_limit)
    app = build_http_app("dispatcher")
    transport = TransportConfig(
        hello_timeout_s=settings.hello_timeout_s,
        frame_max_bytes=settings.worker_frame_max_bytes,
        sse_keepalive_s=settings.sse_keepalive_s,
    )
    app.include_router(worker_router(connections, auth, clock, transport))
    app.include_router(records_router(_records(settings, closers), auth))
    mount_worker_page(app)
    http = WorkerHttpServer(
        app, settings.host, settings.http_port, connections, settings.shutdown_grace_s
    )
    runtime = ServiceRuntime(
        name="dispatcher",
        grpc=grpc_server,
        http=http,
        producer=producer,
        consumers=(
            [quality, answers, outcomes]
            if settings.role == "gateway"
            else [consumer, quality, answers, outcomes]
        ),
        loops=[
            *loops,
            _reloading_exclusions(dispatch, settings.exclusions_reload_s),
            dispatch.run_dispatch,
            dispatch.run_timers,
            replication.run_follow,
            replication.run_relay,
            replication.run_liveness,
        ],
        closers=closers,
        grace_s=settings.shutdown_grace_s,
    )
    return Dispatcher(runtime, dispatch, replication, platform, auth, platform_keys)


def _side_consumer(
    settings: DispatcherSettings,
    producer: EventProducer,
    group_id: str,
    topics: str | tuple[str, ...],
    handler: Handler,
    batch_handler: BatchHandler | None = None,
) -> EventConsumer:
    """A consumer group of its own beside task ingest, on every replica whatever its role."""
    names = (topics,) if isinstance(topics, str) else topics
    config = ConsumerConfig.of_service(settings, group_id, names)
    return EventConsumer(
        config,
        handler,
        DeadLetters(producer, settings.dlq_max_ratio),
        batch_handler=batch_handler,
    )


def _reloading_exclusions(dispatch: Dispatch, every_s: float) -> Loop:
    async def reload_forever() -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await dispatch.reload_exclusions()
            except Exception as error:
                log.warning("reloading pool exclusions failed", error=str(error))

    return reload_forever


def _records(settings: DispatcherSettings, closers: list[Closer]) -> WorkerRecords | None:
    """The worker page's statement and reviews, when payroll and scoring are known."""
    if settings.payroll_target is None or settings.scoring_target is None:
        return None
    records = GrpcWorkerRecords(settings.payroll_target, settings.scoring_target)
    closers.append(records.close)
    return records


def client_task_ids_in_postgres(settings: DispatcherSettings) -> PostgresClientTaskIds:
    config = PostgresConfig(
        settings.postgres_dsn,
        "dispatcher",
        settings.migrations_dir or DEFAULT_MIGRATIONS,
        schema=settings.tables_schema,
        timeout_s=settings.postgres_timeout_s,
        max_pool_size=settings.postgres_pool_max_size,
        # Idle replicas hold none: the prod schedulers take no SubmitTasks or GetTask.
        min_pool_size=0,
    )
    return PostgresClientTaskIds(PostgresPool(config, SubmissionsUnavailableError))


def _client_tasks(
    settings: DispatcherSettings, client: redis.Redis, closers: list[Closer], loops: list[Loop]
) -> ClientTaskIds:
    record = client_task_ids_in_postgres(settings)
    closers.append(record.close)
    loops.append(opened_at_start("client task ids", record.start, SubmissionsUnavailableError))
    # Until the ids earlier versions kept in Redis are moved (python -m
    # dispatcher.move_client_ids), they are read there too.
    hashes = RedisClientHashes(client, settings.redis_prefix)
    return WithRedisHashes(record, hashes, write_too=settings.client_ids_also_in_redis)


def _escrow(settings: DispatcherSettings, closers: list[Closer]) -> Escrow:
    if settings.payroll_target is None or settings.payroll_api_key is None:
        log.warning(
            "FAIRTASK_PAYROLL_TARGET is not set: tasks are accepted without escrow, so work "
            "may be dispatched that no platform funded. Set it in any shared or production "
            "deployment."
        )
        return UncheckedEscrow()
    escrow = PayrollEscrow(settings.payroll_target, settings.payroll_api_key.get_secret_value())
    closers.append(escrow.close)
    return escrow
