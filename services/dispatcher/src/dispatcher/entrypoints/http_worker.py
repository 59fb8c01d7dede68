"""The worker's HTTP API on the dispatcher's FastAPI app.

  POST   /v1/workers            register; 201 with a token (422 bad fields, 409 worker_id taken)
  GET    /v1/worker/me          what the token says (401 if it is not valid)
  POST   /v1/worker/token       a fresh token for a valid one, which is revoked (rotation)
  DELETE /v1/worker/token       sign out: revoke the token (204; idempotent)
  GET    /v1/worker/events      server-sent events: the pushes of the WebSocket, for networks
                                that block WebSockets; a `: keepalive` comment every 15 s
  POST   /v1/worker/accept | decline | heartbeat | submit
                                act on the worker's open connection (any transport); 200, or
                                401 token, 404 not your offer or lease, 409 expired, already
                                submitted or not connected, 413 too large, 422 malformed,
                                429 too many messages (Retry-After says when to try again)
  GET    /v1/worker/ws          the WebSocket (ws_worker)

Tokens travel as `Authorization: Bearer <token>`. Only the event stream and the WebSocket also
take `?token=`, because browsers cannot set headers on those; prefer the header elsewhere.
Every error body is {"error": {"code", "message", "field", "violations": [{"field","problem"}]}}.
"""

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import QueryParams

from dispatcher.domain.errors import (
    ConflictError,
    InvalidInputError,
    TooManyRequestsError,
    Violation,
)
from dispatcher.domain.model import submission_id_for
from dispatcher.entrypoints.errors import status_code_of
from dispatcher.entrypoints.http_schemas import ACTIONS as ACTION_BODIES
from dispatcher.entrypoints.http_schemas import REGISTRATION, json_body
from dispatcher.entrypoints.worker_connections import HANDLED, TransportConfig, WorkerConnections
from dispatcher.entrypoints.worker_frames import (
    FrameError,
    HelloRequest,
    SubmitRequest,
    error_frame,
    parse_message,
    parse_registration,
    push_frame,
)
from dispatcher.entrypoints.ws_worker import WorkerSocket
from dispatcher.service_layer.auth import (
    HelloOverrides,
    IssuedToken,
    UnauthenticatedError,
    WorkerAuth,
    WorkerClaims,
    hello_for,
)
from dispatcher.service_layer.sessions import Closed
from fairtask_runtime.clock import Clock

log = structlog.get_logger(__name__)

_HTTP_STATUS = {
    "INVALID_ARGUMENT": 422,
    "UNAUTHENTICATED": 401,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 413,
    "UNAVAILABLE": 503,
}
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_MAX_REGISTRATION_BYTES = 16 * 1024
ACTIONS = ("accept", "decline", "heartbeat", "submit")


class ProblemError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        field: str = "",
        violations: Sequence[Violation] = (),
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.violations = code, message, field, violations
        self.retry_after_s = retry_after_s

    def response(self, status: int | None = None) -> Response:
        """The error body and headers; `status` overrides the one the code maps to."""
        body = error_frame(self.code, self.message, self.field)
        body["error"]["violations"] = [
            {"field": v.field, "problem": v.problem} for v in self.violations
        ]
        headers = {}
        if self.code == "UNAUTHENTICATED":
            headers["WWW-Authenticate"] = 'Bearer realm="fairtask-worker", error="invalid_token"'
        status = status or _HTTP_STATUS.get(self.code, 500)
        if self.retry_after_s is not None:  # a rate limit, not a size: 429, and when to retry
            status = 429
            headers["Retry-After"] = str(math.ceil(self.retry_after_s))
        return _json(body, status, headers)


def _of(error: Exception, about: str = "") -> ProblemError:
    if isinstance(error, InvalidInputError):
        first = error.violations[0].field
        return ProblemError("INVALID_ARGUMENT", str(error), first, error.violations)
    if isinstance(error, FrameError):
        return ProblemError(error.code, error.message, error.field)
    if isinstance(error, UnauthenticatedError):
        return ProblemError("UNAUTHENTICATED", str(error), "token")
    if isinstance(error, TooManyRequestsError):
        return ProblemError("RESOURCE_EXHAUSTED", str(error), about, (), error.retry_after_s)
    return ProblemError(status_code_of(error).name, str(error), about)


def worker_router(
    connections: WorkerConnections, auth: WorkerAuth, clock: Clock, config: TransportConfig
) -> APIRouter:
    api = _WorkerHttp(connections, auth, clock, config)
    router = APIRouter()
    router.add_api_route(
        "/v1/workers",
        api.register,
        methods=["POST"],
        status_code=201,
        openapi_extra=json_body(REGISTRATION),
    )
    router.add_api_route("/v1/worker/me", api.me, methods=["GET"])
    router.add_api_route("/v1/worker/token", api.refresh, methods=["POST"])
    router.add_api_route("/v1/worker/token", api.sign_out, methods=["DELETE"])
    router.add_api_route("/v1/worker/events", api.events, methods=["GET"])
    for action in ACTIONS:
        router.add_api_route(
            f"/v1/worker/{action}",
            api.action(action),
            methods=["POST"],
            openapi_extra=json_body(ACTION_BODIES[action]),
        )
    socket = WorkerSocket(connections, auth, clock, config)
    router.add_api_websocket_route("/v1/worker/ws", socket.__call__)
    return router


class _WorkerHttp:
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

    async def register(self, request: Request) -> Response:
        try:
            body = await _body(request, _MAX_REGISTRATION_BYTES)
            issued = await self._auth.register(parse_registration(_loads(body)))
        except ConflictError as error:  # the only one register raises: the id is taken
            return ProblemError("ALREADY_EXISTS", str(error), "worker_id").response()
        except (ProblemError, FrameError, *HANDLED) as error:
            return (error if isinstance(error, ProblemError) else _of(error)).response()
        return _json(_issued(issued), 201)

    async def me(self, request: Request) -> Response:
        try:
            claims = await self._auth.authenticate(_bearer(request))
        except UnauthenticatedError as error:
            return _of(error).response()
        return _json(_claims(claims))

    async def refresh(self, request: Request) -> Response:
        try:
            issued = await self._auth.refresh(_bearer(request))
        except UnauthenticatedError as error:
            return _of(error).response()
        return _json(_issued(issued))

    async def sign_out(self, request: Request) -> Response:
        try:
            await self._auth.revoke(_bearer(request))
        except UnauthenticatedError as error:
            return _of(error).response()
        return Response(status_code=204)

    async def events(self, request: Request) -> Response:
        try:
            claims = await self._auth.authenticate(
                _bearer(request) or request.query_params.get("token", "")
            )
            overrides = _query_overrides(request.query_params)
            hello_for(claims, overrides)  # refused here as a 422, not inside a 200 stream
        except (FrameError, InvalidInputError, UnauthenticatedError) as error:
            return _of(error).response()
        # Connecting happens inside the stream: a client gone before it starts leaves nothing.
        return StreamingResponse(
            self._stream(claims, overrides), media_type="text/event-stream", headers=_SSE_HEADERS
        )

    async def _stream(
        self, claims: WorkerClaims, overrides: HelloOverrides
    ) -> AsyncIterator[bytes]:
        try:
            session = await self._connections.open(claims, overrides, "sse")
        except HANDLED as error:
            yield _event(error_frame(_of(error).code, str(error)))
            return
        try:
            while True:
                try:
                    # Keepalives stop proxies from timing out an idle stream; a wait_for timeout
                    # leaves the queued push in place (Queue.get is cancellation-safe).
                    push = await asyncio.wait_for(
                        session.outbox.get(), self._config.sse_keepalive_s
                    )
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                yield _event(push_frame(push, self._clock.now()))
                if isinstance(push, Closed):
                    return
        finally:
            # Also on cancellation, when Starlette sees the worker hang up.
            await self._connections.close(session, "sse")

    def action(self, kind: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                return await self._act(kind, request)
            except (ProblemError, FrameError, *HANDLED, UnauthenticatedError) as error:
                return (error if isinstance(error, ProblemError) else _of(error, kind)).response()

        handle.__name__ = f"worker_{kind}"
        return handle

    async def _act(self, kind: str, request: Request) -> Response:
        claims = await self._auth.authenticate(_bearer(request))
        parsed = parse_message(kind, _loads(await _body(request, self._config.frame_max_bytes)))
        assert not isinstance(parsed, HelloRequest)  # kind is one of ACTIONS
        session = self._connections.dispatch.session(claims.worker_id)
        if session is None or not session.open:
            raise ProblemError(
                "FAILED_PRECONDITION",
                "you are not connected: open /v1/worker/events (or the WebSocket) first",
                "connection",
            )
        try:
            await self._connections.perform(session, parsed)
        except HANDLED:
            raise
        except Exception as error:
            log.exception("worker action failed", worker=claims.worker_id, action=kind)
            raise ProblemError(
                "UNAVAILABLE", "could not be done just now; try again", kind
            ) from error
        result: dict[str, Any] = {"ok": True}
        if isinstance(parsed, SubmitRequest):
            result["submission_id"] = submission_id_for(parsed.lease_id)
        return _json(result)


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ProblemError("RESOURCE_EXHAUSTED", f"a body is at most {limit} bytes", "body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a chunked body has no Content-Length to refuse it by
            raise ProblemError("RESOURCE_EXHAUSTED", f"a body is at most {limit} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ProblemError("INVALID_ARGUMENT", "the body is not JSON", "body") from error


def _query_overrides(query: QueryParams) -> HelloOverrides:
    flag = query.get("sensitive_opt_in")
    if flag not in (None, "true", "false"):
        raise FrameError("INVALID_ARGUMENT", "must be true or false", "hello.sensitive_opt_in")
    return HelloOverrides(
        time_zone=query.get("time_zone"),
        skills=tuple(query.getlist("skills")) if "skills" in query else None,
        availability=tuple(query.getlist("availability")) if "availability" in query else None,
        sensitive_opt_in=None if flag is None else flag == "true",
    )


def _event(frame: dict[str, Any]) -> bytes:
    [(kind, body)] = frame.items()
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(body) + b"\n\n"


def _claims(claims: WorkerClaims) -> dict[str, Any]:
    return {
        "worker_id": claims.worker_id,
        "region": claims.region,
        "time_zone": claims.time_zone,
        "skills": list(claims.skills),
        "availability": list(claims.availability),
        "sensitive_opt_in": claims.sensitive_opt_in,
        "expires_at": claims.expires_at.isoformat().replace("+00:00", "Z"),
    }


def _issued(issued: IssuedToken) -> dict[str, Any]:
    return {"token": issued.token, **_claims(issued.claims)}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")
