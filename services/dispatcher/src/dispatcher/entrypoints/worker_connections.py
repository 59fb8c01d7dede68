"""What the WebSocket, SSE and POST transports share: opening and closing a worker's session,
carrying out what the worker sent, and closing every open stream when the service stops.
"""

import asyncio
import contextlib
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI

from dispatcher import metrics
from dispatcher.domain.errors import (
    AlreadyDoneError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TooManyRequestsError,
)
from dispatcher.entrypoints.worker_frames import (
    SHUTTING_DOWN,
    AcceptRequest,
    DeclineRequest,
    HeartbeatRequest,
    SubmitRequest,
)
from dispatcher.service_layer.auth import HelloOverrides, WorkerClaims, hello_for
from dispatcher.service_layer.dispatch import Dispatch
from dispatcher.service_layer.sessions import Closed, WorkerSession
from fairtask_runtime.http.app import HttpServer
from fairtask_runtime.rate_limits import RateLimit

log = structlog.get_logger(__name__)

# Errors about one message: reported on the connection (or as the POST's status), which stays up.
HANDLED = (
    InvalidInputError,
    NotFoundError,
    ConflictError,
    AlreadyDoneError,
    TooManyRequestsError,
)

Action = AcceptRequest | DeclineRequest | HeartbeatRequest | SubmitRequest


@dataclass(frozen=True)
class TransportConfig:
    hello_timeout_s: float = 30.0
    # Answers and drafts travel base64-encoded: 4/3 of Dispatch's 256 KiB limit, and the rest.
    frame_max_bytes: int = 384 * 1024
    sse_keepalive_s: float = 15.0


class WorkerConnections:
    def __init__(self, dispatch: Dispatch, limit: RateLimit | None = None) -> None:
        self.dispatch = dispatch
        # Messages per worker, whatever the transport: a flooding client is refused, not served.
        self.limit = limit
        self._open: set[WorkerSession] = set()
        # One message at a time per session, as the gRPC stream reads them: a double-clicked
        # POST and a WebSocket frame must not interleave their awaits on the same offer.
        self._locks: weakref.WeakKeyDictionary[WorkerSession, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._finishing: set[asyncio.Task[None]] = set()
        self._stopping = False
        # Set while no stream is open and no disconnect is still running.
        self._idle = asyncio.Event()
        self._idle.set()

    async def open(
        self,
        claims: WorkerClaims,
        overrides: HelloOverrides,
        transport: str,
        worker_id: str = "",
        region: str = "",
    ) -> WorkerSession:
        """Connects the worker the token names. Raises InvalidInputError for a bad hello, and
        ConflictError while the service is stopping."""
        if self._stopping:
            raise ConflictError(SHUTTING_DOWN)
        hello = hello_for(claims, overrides, worker_id, region)
        session = await self.dispatch.connect(hello)
        self._open.add(session)
        self._idle.clear()
        metrics.CONNECTED_WORKERS.labels(transport).inc()
        return session

    async def close(self, session: WorkerSession, transport: str) -> None:
        """Idempotent. The grace period starts even if the caller is being cancelled."""
        if session not in self._open:
            return
        self._open.discard(session)
        metrics.CONNECTED_WORKERS.labels(transport).dec()
        await self._shielded(self.dispatch.disconnect(session))

    async def perform(self, session: WorkerSession, action: Action) -> None:
        """Raises the domain errors in HANDLED; each means nothing changed."""
        admit(self.limit, session.worker_id)
        d = self.dispatch
        async with self._locks.setdefault(session, asyncio.Lock()):
            match action:
                case AcceptRequest(offer_id):
                    await d.accept(session, offer_id)
                case DeclineRequest(offer_id):
                    await d.decline(session, offer_id)
                case HeartbeatRequest(lease_id, draft):
                    await d.heartbeat(session, lease_id, draft)
                case SubmitRequest(lease_id, answer):
                    await d.submit(session, lease_id, answer)

    def shut_down(self) -> None:
        """Ends every open WebSocket and event stream (their writers see Closed). Without this,
        an event stream that never ends would hold up the HTTP server's graceful stop."""
        self._stopping = True
        for session in list(self._open):
            session.push(Closed(SHUTTING_DOWN))

    async def drained(self, timeout_s: float) -> None:
        """Waits until every stream has closed (and started its grace period), or timeout_s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)

    async def _shielded(self, work: Coroutine[Any, Any, None]) -> None:
        # Kept in a set: a task only the shield refers to could be garbage-collected mid-way.
        task = asyncio.create_task(work)
        self._finishing.add(task)
        task.add_done_callback(self._finished)
        await asyncio.shield(task)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._finishing.discard(task)
        if not self._open and not self._finishing:
            self._idle.set()
        if not task.cancelled() and task.exception() is not None:
            log.warning("disconnect failed", exc_info=task.exception())


class WorkerHttpServer(HttpServer):
    """The HTTP server, ending the worker streams first when it stops: uvicorn waits for every
    open response to finish, and an event stream otherwise never would."""

    def __init__(
        self, app: FastAPI, host: str, port: int, connections: WorkerConnections, grace_s: float
    ) -> None:
        super().__init__(app, host, port, grace_s)
        self._host = host
        self._connections = connections
        self._grace_s = grace_s

    async def start(self) -> None:
        await super().start()
        log.info("worker page", url=f"http://{self._host}:{self.port}/worker/")

    async def stop(self) -> None:
        self._connections.shut_down()
        await self._connections.drained(self._grace_s)
        await super().stop()


def admit(limit: RateLimit | None, worker_id: str) -> None:
    """Raises TooManyRequestsError when the worker is past its message rate."""
    wait_s = limit.retry_after(worker_id) if limit is not None else None
    if wait_s is not None:
        assert limit is not None
        raise TooManyRequestsError(limit.description, wait_s)
