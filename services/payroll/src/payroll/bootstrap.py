"""The composition root: every adapter payroll uses is built here and nowhere else."""

import asyncio
from collections.abc import Callable
from datetime import timedelta

import redis.asyncio as redis
import structlog

from fairtask_runtime.api_keys import RedisPlatformKeys
from fairtask_runtime.clock import Clock, SystemClock
from fairtask_runtime.envelope import new_event_id
from fairtask_runtime.grpc.callers import CallerAuthenticator, callers_for
from fairtask_runtime.grpc.identity import authenticator_for
from fairtask_runtime.grpc.server import GrpcServer
from fairtask_runtime.http.app import HttpServer, build_http_app
from fairtask_runtime.kafka.consumer import ConsumerConfig, EventConsumer
from fairtask_runtime.kafka.dlq import DeadLetters
from fairtask_runtime.kafka.producer import EventProducer
from fairtask_runtime.service import Loop, ServiceRuntime, opened_at_start
from payroll.adapters.kafka import KafkaEntryPublisher, LedgerDeduplicates
from payroll.adapters.postgres import PostgresLedger
from payroll.config import PayrollSettings
from payroll.domain.payouts import batch_of
from payroll.entrypoints.consumers import GROUP_ID, TOPICS, PayrollConsumer
from payroll.entrypoints.grpc_api import SERVICE_NAME, PayrollServicer, register
from payroll.entrypoints.grpc_escrow import SERVICE_NAME as ESCROW_SERVICE
from payroll.entrypoints.grpc_escrow import EscrowServicer, register_escrow
from payroll.service_layer.handlers import PayrollHandlers
from payroll.service_layer.ports import EntryPublisher, Ledger, LedgerUnavailableError

log = structlog.get_logger(__name__)

SERVICE = "payroll"


def bootstrap(
    settings: PayrollSettings,
    *,
    ledger: Ledger | None = None,
    publisher: EntryPublisher | None = None,
    clock: Clock | None = None,
    new_id: Callable[[], str] = new_event_id,
) -> ServiceRuntime:
    """Wires the service. Connects to nothing: PostgreSQL is opened by the start-up loop,
    Kafka and the servers by ServiceRuntime.start(). Call inside the running event loop."""
    loops: list[Loop] = []
    closers = []
    if ledger is None:
        postgres = PostgresLedger(
            settings.postgres_dsn,
            timeout_s=settings.postgres_timeout_s,
            max_pool_size=settings.postgres_pool_max_size,
            migrations_dir=settings.migrations_dir,
        )
        loops.append(opened_at_start("ledger", postgres.start, LedgerUnavailableError))
        closers.append(postgres.close)
        ledger = postgres
    clock = clock or SystemClock()
    callers, identity = _callers(settings, clock)
    closers.append(identity.aclose)
    producer = EventProducer(settings.kafka_bootstrap, settings.topic_prefix, client_id=SERVICE)
    handlers = PayrollHandlers(
        ledger=ledger,
        publisher=publisher or KafkaEntryPublisher(producer),
        clock=clock,
        new_id=new_id,
        floor_micros_per_hour=settings.pay_floor_micros_per_hour,
        confirm_holds_within=timedelta(seconds=settings.confirm_holds_within_s),
    )
    loops.append(_paying_out(handlers, settings))
    loops.append(_sweeping_holds(handlers, settings.hold_sweep_s))
    consumer = EventConsumer(
        ConsumerConfig.of_service(settings, GROUP_ID, TOPICS),
        PayrollConsumer(handlers),
        DeadLetters(producer, settings.dlq_max_ratio),
        processed=LedgerDeduplicates(),
    )
    return ServiceRuntime(
        name=SERVICE,
        grpc=GrpcServer(
            [SERVICE_NAME, ESCROW_SERVICE],
            [
                register(PayrollServicer(handlers, callers)),
                register_escrow(EscrowServicer(handlers, callers)),
            ],
        ),
        http=HttpServer(
            build_http_app(SERVICE), settings.host, settings.http_port, settings.shutdown_grace_s
        ),
        producer=producer,
        consumers=[consumer],
        loops=loops,
        closers=closers,
        grace_s=settings.shutdown_grace_s,
    )


def _callers(settings: PayrollSettings, clock: Clock) -> tuple[CallerAuthenticator, redis.Redis]:
    """Who may call: workers by their tokens, platforms and operators by their API keys, all
    checked against the shared identity store. Also its Redis client, for shutdown to close."""
    identity: redis.Redis = redis.from_url(settings.platform_keys_redis_url or settings.redis_url)
    platforms = authenticator_for(
        RedisPlatformKeys(identity, settings.platform_keys_prefix), settings
    )
    return callers_for(settings, platforms, clock, identity), identity


def _paying_out(handlers: PayrollHandlers, settings: PayrollSettings) -> Loop:
    async def pay_out_each_period() -> None:
        """One payout batch per period, from every replica (the ledger pays each worker once
        per batch, whichever replica gets there first)."""
        done = ""
        while True:
            batch = batch_of(handlers.clock.now(), settings.payout_period_s)
            if batch != done:
                try:
                    await handlers.pay_out(batch, settings.payout_minimum_micros)
                    done = batch
                except Exception as exc:
                    log.warning("payout batch failed", batch_id=batch, error=str(exc))
            await asyncio.sleep(settings.payout_check_s)

    return pay_out_each_period


def _sweeping_holds(handlers: PayrollHandlers, every_s: float) -> Loop:
    async def sweep_holds() -> None:
        """Settles the escrow holds that are due: every replica sweeps, each hold once (an
        UPDATE of held rows)."""
        while True:
            await asyncio.sleep(every_s)  # the ledger opens meanwhile at start-up
            try:
                await handlers.release_due_holds()
            except Exception as exc:
                log.warning("escrow hold sweep failed", error=str(exc))

    return sweep_holds
