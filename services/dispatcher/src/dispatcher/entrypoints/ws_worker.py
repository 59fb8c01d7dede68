"""GET /v1/worker/ws: a worker's connection as a WebSocket of JSON text frames.

The first frame must be `{"hello": {...}}` (with the token in it, or in `?token=` on the URL);
then frames mirror ConnectRequest in and ConnectResponse out (see worker_frames). A frame that is
oversize, not JSON or ill-formed gets an `{"error": ...}` frame and changes nothing; the
connection stays up. Close codes:

  4400  the first frame was not a valid hello          4401  missing, bad, expired or revoked token
  4408  no hello within hello_timeout_s                 4409  closed by the dispatcher: the worker
  4429  too many answers left unread                          connected again elsewhere
  1012  the dispatcher is restarting, or ended the connection otherwise; reconnect
"""

import asyncio
from typing import Any

import orjson
import structlog
from starlette.websockets import WebSocket, WebSocketState

from dispatcher.domain.errors import InvalidInputError
from dispatcher.entrypoints.errors import status_code_of
from dispatcher.entrypoints.worker_connections import (
    HANDLED,
    TransportConfig,
    WorkerConnections,
)
from dispatcher.entrypoints.worker_frames import (
    SHUTTING_DOWN,
    FrameError,
    HelloRequest,
    closed_code,
    error_frame,
    parse_frame,
    push_frame,
)
from dispatcher.service_layer.auth import UnauthenticatedError, WorkerAuth, WorkerClaims
from dispatcher.service_layer.sessions import Closed, ErrorPush, WorkerSession
from fairtask_runtime.clock import Clock

log = structlog.get_logger(__name__)

TRANSPORT = "websocket"
BAD_HELLO, UNAUTHENTICATED, HELLO_TIMEOUT, REPLACED, RESTARTING = 4400, 4401, 4408, 4409, 1012
OVERFLOWING = 4429
# The close code that goes with the code a closing connection's last frame says.
_CLOSE_CODES = {"ABORTED": REPLACED, "RESOURCE_EXHAUSTED": OVERFLOWING, "UNAVAILABLE": RESTARTING}


class _RefusedError(Exception):
    def __init__(self, close_code: int, frame: dict[str, Any]) -> None:
        super().__init__(frame["error"]["message"])
        self.close_code = close_code
        self.frame = frame


class WorkerSocket:
    def __init__(
        self,
        connections: WorkerConnections,
        auth: WorkerAuth,
        clock: Clock,
        config: TransportConfig,
    ) -> None:
        self._connections = connections
        self._auth = auth
        self._clock = clock
        self._config = config

    async def __call__(self, ws: WebSocket) -> None:
        await ws.accept()
        try:
            session = await self._hello(ws)
        except _RefusedError as refused:
            await _send(ws, refused.frame)
            await _close(ws, refused.close_code, refused.frame["error"]["message"])
            return
        if session is None:
            return  # gone before saying hello
        reader = asyncio.create_task(self._read(ws, session))
        writer = asyncio.create_task(self._write(ws, session))
        try:
            # Either side may end it: the worker hangs up (reader) or the dispatcher closes the
            # session (writer, on Closed).
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for side in (reader, writer):
                side.cancel()
                if side.done() and not side.cancelled() and side.exception() is not None:
                    # A socket that broke under us: the worker is gone, the grace period starts.
                    log.info("websocket ended", worker=session.worker_id, exc_info=side.exception())
            await self._connections.close(session, TRANSPORT)

    async def _hello(self, ws: WebSocket) -> WorkerSession | None:
        query_token = ws.query_params.get("token", "")
        if query_token:
            await self._authenticate(query_token)  # fail fast, before waiting for a hello
        try:
            message = await asyncio.wait_for(ws.receive(), self._config.hello_timeout_s)
        except TimeoutError:
            raise _RefusedError(
                HELLO_TIMEOUT, error_frame("DEADLINE_EXCEEDED", "send hello first", "hello")
            ) from None
        if message["type"] == "websocket.disconnect":
            return None
        try:
            hello = parse_frame(_data(message), self._config.frame_max_bytes)
        except FrameError as error:
            raise _RefusedError(
                BAD_HELLO, error_frame(error.code, error.message, error.field)
            ) from None
        if not isinstance(hello, HelloRequest):
            raise _RefusedError(
                BAD_HELLO,
                error_frame("INVALID_ARGUMENT", "the first frame must be hello", "hello"),
            )
        claims = await self._authenticate(hello.token or query_token)
        try:
            return await self._connections.open(
                claims, hello.overrides, TRANSPORT, hello.worker_id, hello.region
            )
        except InvalidInputError as error:
            field = error.violations[0].field
            raise _RefusedError(
                BAD_HELLO, error_frame("INVALID_ARGUMENT", str(error), field)
            ) from None
        except HANDLED:  # ConflictError: the service is stopping
            raise _RefusedError(RESTARTING, error_frame("UNAVAILABLE", SHUTTING_DOWN)) from None

    async def _authenticate(self, token: str) -> WorkerClaims:
        try:
            return await self._auth.authenticate(token)
        except UnauthenticatedError as error:
            raise _RefusedError(
                UNAUTHENTICATED, error_frame("UNAUTHENTICATED", str(error), "token")
            ) from None

    async def _read(self, ws: WebSocket, session: WorkerSession) -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                request = parse_frame(_data(message), self._config.frame_max_bytes)
            except FrameError as error:
                session.push(ErrorPush(error.code, error.message, error.field))
                continue
            if isinstance(request, HelloRequest):
                session.push(ErrorPush("FAILED_PRECONDITION", "already said hello", "hello"))
                continue
            try:
                await self._connections.perform(session, request)
            except HANDLED as error:
                field = (
                    error.violations[0].field
                    if isinstance(error, InvalidInputError)
                    else request.kind
                )
                session.push(ErrorPush(status_code_of(error).name, str(error), field))
            except Exception:
                # Redis or Kafka hiccup: say so on this connection, which stays up for a retry.
                log.exception("worker message failed", worker=session.worker_id)
                session.push(
                    ErrorPush("UNAVAILABLE", "could not be done just now; try again", request.kind)
                )

    async def _write(self, ws: WebSocket, session: WorkerSession) -> None:
        while True:
            push = await session.outbox.get()
            frame = push_frame(push, self._clock.now())
            if isinstance(push, Closed):
                await _send(ws, frame)
                await _close(ws, _CLOSE_CODES[closed_code(push.reason)], push.reason)
                return
            if not await _send(ws, frame):
                return


def _data(message: Any) -> str | bytes:
    text = message.get("text")
    return text if text is not None else (message.get("bytes") or b"")


async def _send(ws: WebSocket, frame: dict[str, Any]) -> bool:
    """False when the worker is gone (the reader will see the disconnect)."""
    try:
        await ws.send_text(orjson.dumps(frame).decode())
    except Exception:  # the socket closed under us; uvicorn and starlette differ in what raises
        return False
    return True


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    if ws.application_state is WebSocketState.DISCONNECTED:
        return
    try:
        # A close reason is at most 123 bytes.
        await ws.close(code, reason.encode()[:120].decode(errors="ignore"))
    except Exception:
        log.debug("websocket already closed", exc_info=True)
