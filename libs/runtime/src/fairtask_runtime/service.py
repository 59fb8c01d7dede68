"""Start-up and the shutdown order every service follows.

Stop order: gRPC health NOT_SERVING and `server.stop(grace)` so in-flight calls finish, then
the consumers finish the message in hand and commit, background loops are cancelled, the
producer flushes, and finally the stores close.
"""

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvloop
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from fairtask_runtime.grpc.server import GrpcServer
from fairtask_runtime.grpc.tls import server_credentials
from fairtask_runtime.http.app import HttpServer
from fairtask_runtime.kafka.consumer import EventConsumer
from fairtask_runtime.kafka.producer import EventProducer
from fairtask_runtime.logging import configure_logging
from fairtask_runtime.settings import ServiceSettings
from fairtask_runtime.shutdown import shutdown_event

log = structlog.get_logger(__name__)

Closer = Callable[[], Awaitable[None]]
Loop = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class ServiceRuntime:
    name: str
    grpc: GrpcServer | None = None
    http: HttpServer | None = None
    producer: EventProducer | None = None
    consumers: Sequence[EventConsumer] = ()
    loops: Sequence[Loop] = ()
    closers: Sequence[Closer] = ()
    grace_s: float = 10.0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, host: str, grpc_port: int, http_port: int) -> None:
        if self.producer is not None:
            await self.producer.start()
        for consumer in self.consumers:
            await consumer.start()
            self._tasks.append(asyncio.create_task(consumer.run(), name=f"{self.name}-consumer"))
        for loop in self.loops:
            self._tasks.append(asyncio.create_task(loop(), name=f"{self.name}-loop"))
        if self.grpc is not None:
            await self.grpc.start(host, grpc_port)
        if self.http is not None:
            await self.http.start()
        log.info(
            "service started",
            grpc_port=self.grpc.port if self.grpc else None,
            http_port=self.http.port if self.http else None,
        )

    async def run_until(self, stop: asyncio.Event) -> None:
        """Returns when `stop` is set, or raises if a consumer or loop dies."""
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        for task in done:
            if task is not waiter and task.exception() is not None:
                log.error("background task died", task=task.get_name(), exc_info=task.exception())
                raise RuntimeError(f"{task.get_name()} died") from task.exception()

    async def stop(self) -> None:
        log.info("service stopping", grace_s=self.grace_s)
        if self.grpc is not None:
            await self.grpc.stop(self.grace_s)
        if self.http is not None:
            await self.http.stop()
        for consumer in self.consumers:
            consumer.stop()
        for task in self._tasks:
            if task.get_name().endswith("-loop"):
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                # Consumers return after committing; a hung one is not allowed to block exit.
                await asyncio.wait_for(task, timeout=self.grace_s)
        if self.producer is not None:
            await self.producer.stop()
        for close in self.closers:
            await close()
        log.info("service stopped")


def run_service(name: str, settings: ServiceSettings, build: Callable[[], ServiceRuntime]) -> None:
    """The body of every `python -m <service>`: logs, wiring, run until SIGTERM, stop in order."""

    async def main() -> None:
        configure_logging(name, settings.log_level, settings.log_json)
        runtime = build()
        if runtime.grpc is not None:
            runtime.grpc.credentials = server_credentials(settings)
        stop = shutdown_event()
        # start() logs one "service started" line with the bound gRPC and HTTP ports.
        await runtime.start(settings.host, settings.grpc_port, settings.http_port)
        settle_heap(settings.gc_thresholds)
        try:
            await runtime.run_until(stop)
        finally:
            await runtime.stop()

    with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
        runner.run(main())


def opened_at_start(
    what: str,
    start: Callable[[], Awaitable[None]],
    unavailable: type[Exception],
    max_backoff_s: float = 10.0,
) -> Loop:
    """A loop that opens a store at start-up rather than at its first use, retrying while
    `start` raises `unavailable`. Any other error (an inconsistent migration history) ends
    it, and with it the service: running against a schema we do not understand is worse."""

    def waiting(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        sleep_s = state.next_action.sleep if state.next_action else None
        log.warning(f"{what} not reachable yet", error=str(error), retry_in_s=sleep_s)

    async def open_then_idle() -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(unavailable),
            wait=wait_exponential(multiplier=0.2, max=max_backoff_s),
            before_sleep=waiting,
            reraise=True,
        ):
            with attempt:
                await start()
        # The runtime ends the service when a loop returns, so idle until stop() cancels us.
        await asyncio.Event().wait()

    return open_then_idle


def settle_heap(thresholds: tuple[int, int, int]) -> None:
    """Once started: what start-up built (modules, descriptors, the wiring) lives as long as
    the process, so it is frozen out of every later collection; and young objects get room
    to die young. A full collection stops the event loop for as long as the heap it walks is
    large, which is every offer's delay at that moment."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


def event_loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop `run_service` runs on: None for asyncio's default. grpc.aio, aiokafka,
    redis-py and uvicorn all run on uvloop."""
    if kind == "uvloop":
        return uvloop.new_event_loop
    return None
