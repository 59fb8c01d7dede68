"""fairtask.v1.WorkerService: registration, and Connect, one bidirectional stream per worker.

The stream needs a token from RegisterWorker, in Hello.token or `authorization: Bearer <token>`
metadata; a bad one gets an UNAUTHENTICATED StreamError, then the call ends with that status.
The first message must be Hello. After that the worker's messages are handled in order by a
reader task while this coroutine writes whatever the dispatcher pushes to the session.
"""

import asyncio
from collections.abc import AsyncIterator

import grpc
import structlog

from dispatcher import metrics
from dispatcher.adapters.codec import to_timestamp
from dispatcher.domain.errors import ConflictError, InvalidInputError
from dispatcher.domain.model import Lease
from dispatcher.entrypoints.errors import Context, abort_with, status_code_of
from dispatcher.entrypoints.worker_connections import HANDLED, admit
from dispatcher.entrypoints.worker_frames import closed_code
from dispatcher.service_layer.auth import (
    HelloOverrides,
    RegisterWorker,
    UnauthenticatedError,
    WorkerAuth,
    WorkerClaims,
    hello_for,
)
from dispatcher.service_layer.dispatch import Dispatch
from dispatcher.service_layer.sessions import (
    Closed,
    ErrorPush,
    Hello,
    LeasePush,
    OfferPush,
    OfferWithdrawnPush,
    Push,
    SubmitAcceptedPush,
    Welcome,
    WorkerSession,
)
from fairtask.v1 import dispatcher_pb2, dispatcher_pb2_grpc
from fairtask_runtime.grpc.malformed import MalformedRequestError
from fairtask_runtime.rate_limits import RateLimit

log = structlog.get_logger(__name__)


class WorkerServicer(dispatcher_pb2_grpc.WorkerServiceServicer):
    def __init__(
        self,
        dispatch: Dispatch,
        auth: WorkerAuth,
        hello_timeout_s: float,
        limit: RateLimit | None = None,
    ) -> None:
        self._dispatch = dispatch
        self._auth = auth
        self._hello_timeout_s = hello_timeout_s
        self._limit = limit

    async def RegisterWorker(
        self, request: dispatcher_pb2.RegisterWorkerRequest, context: Context
    ) -> dispatcher_pb2.RegisterWorkerResponse:
        command = RegisterWorker(
            region=request.region,
            worker_id=request.worker_id,
            time_zone=request.time_zone or "UTC",
            skills=tuple(request.skills),
            availability=tuple(request.availability),
            sensitive_opt_in=request.sensitive_opt_in,
        )
        try:
            issued = await self._auth.register(command)
        except InvalidInputError as error:
            await abort_with(context, error)
            raise
        except ConflictError as error:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(error))
            raise
        return dispatcher_pb2.RegisterWorkerResponse(
            worker_id=issued.claims.worker_id,
            token=issued.token,
            expires_at=to_timestamp(issued.claims.expires_at),
        )

    async def Connect(
        self, request_iterator: AsyncIterator[dispatcher_pb2.ConnectRequest], context: Context
    ) -> AsyncIterator[dispatcher_pb2.ConnectResponse]:
        metadata_token = _bearer(context)
        refused = metadata_token and await self._refusal(metadata_token)
        if refused:
            # Before the hello: a client with a bad token learns it at once.
            yield _error("UNAUTHENTICATED", refused, "token")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, refused)
        try:
            first = await asyncio.wait_for(anext(request_iterator), self._hello_timeout_s)
        except (TimeoutError, StopAsyncIteration):
            yield _error("DEADLINE_EXCEEDED", "send hello first", "hello")
            return
        except MalformedRequestError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        if first.WhichOneof("message") != "hello":
            yield _error("INVALID_ARGUMENT", "the first message must be hello", "hello")
            return
        try:
            claims = await self._auth.authenticate(metadata_token or first.hello.token)
        except UnauthenticatedError as error:
            yield _error("UNAUTHENTICATED", str(error), "token")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(error))
            raise
        try:
            session = await self._dispatch.connect(_hello_of(first.hello, claims))
        except InvalidInputError as error:
            yield _error("INVALID_ARGUMENT", str(error), error.violations[0].field)
            return
        metrics.CONNECTED_WORKERS.labels("grpc").inc()
        reader = asyncio.create_task(self._read(request_iterator, session))
        try:
            while True:
                push = await session.outbox.get()
                if isinstance(push, Closed) and (refused := _refusal(reader)):
                    # Here, between writes: see MalformedRequestError.
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, refused)
                yield _to_pb(push)
                if isinstance(push, Closed):
                    break
        finally:
            reader.cancel()
            metrics.CONNECTED_WORKERS.labels("grpc").dec()
            # Shielded: the grace period must start even if the stream is being cancelled.
            await asyncio.shield(self._dispatch.disconnect(session))

    async def _refusal(self, token: str) -> str:
        """Why the token is refused, or "" when it is good."""
        try:
            await self._auth.authenticate(token)
        except UnauthenticatedError as error:
            return str(error)
        return ""

    async def _read(
        self, requests: AsyncIterator[dispatcher_pb2.ConnectRequest], session: WorkerSession
    ) -> str:
        """Handles the worker's messages until the stream ends; why it refused the stream, or
        "" when it simply ended."""
        refused = ""
        try:
            async for request in requests:
                await self._handle(request, session)
        except asyncio.CancelledError:
            raise
        except MalformedRequestError as error:
            refused = str(error)
        except Exception:
            log.info("worker stream broke", worker=session.worker_id, exc_info=True)
        session.push(Closed("stream ended"))
        return refused

    async def _handle(self, request: dispatcher_pb2.ConnectRequest, session: WorkerSession) -> None:
        kind = request.WhichOneof("message")
        d = self._dispatch
        try:
            admit(self._limit, session.worker_id)
            match kind:
                case "accept":
                    await d.accept(session, request.accept.offer_id)
                case "decline":
                    await d.decline(session, request.decline.offer_id)
                case "heartbeat":
                    beat = request.heartbeat
                    draft = beat.draft if beat.draft else None
                    await d.heartbeat(session, beat.lease_id, draft)
                case "submit":
                    await d.submit(session, request.submit.lease_id, request.submit.answer)
                case "hello":
                    session.push(ErrorPush("FAILED_PRECONDITION", "already said hello", "hello"))
                case _:
                    session.push(ErrorPush("INVALID_ARGUMENT", "empty message", "message"))
        except HANDLED as error:
            field = error.violations[0].field if isinstance(error, InvalidInputError) else kind
            session.push(ErrorPush(status_code_of(error).name, str(error), field or ""))
        except Exception:
            # Redis or Kafka hiccup: said about this message, as on the WebSocket; the stream
            # stays up for a retry.
            log.exception("worker message failed", worker=session.worker_id)
            session.push(ErrorPush("UNAVAILABLE", "could not be done just now; try again", kind))


def _refusal(reader: "asyncio.Task[str]") -> str:
    return reader.result() if reader.done() and not reader.cancelled() else ""


def _hello_of(h: dispatcher_pb2.Hello, claims: WorkerClaims) -> Hello:
    """The worker is the token's; empty fields keep what was registered. Proto3 cannot tell an
    unset bool from false, so sensitive_opt_in is taken as sent: opting in is always explicit.
    Raises InvalidInputError naming the hello field that is wrong."""
    overrides = HelloOverrides(
        time_zone=h.time_zone or None,
        skills=tuple(h.skills) or None,
        availability=tuple(h.availability) or None,
        sensitive_opt_in=h.sensitive_opt_in,
    )
    return hello_for(claims, overrides, h.worker_id, h.region)


def _bearer(context: Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


def _lease_pb(lease: Lease, heartbeat_interval_s: int = 0) -> dispatcher_pb2.Lease:
    return dispatcher_pb2.Lease(
        lease_id=lease.lease_id,
        task_id=lease.task.task_id,
        payload=lease.task.payload,
        draft=lease.draft,
        heartbeat_interval_seconds=heartbeat_interval_s,
        task_type=lease.task.task_type.name,
        purpose=lease.task.task_type.purpose,
        price_micros=lease.task.task_type.price_micros,
        effort_seconds=lease.task.task_type.effort_seconds,
    )


def _error(code: str, message: str, field: str = "") -> dispatcher_pb2.ConnectResponse:
    return dispatcher_pb2.ConnectResponse(
        error=dispatcher_pb2.StreamError(code=code, message=message, field=field)
    )


def _to_pb(push: Push) -> dispatcher_pb2.ConnectResponse:
    match push:
        case Welcome(worker_id, resumed):
            welcome = dispatcher_pb2.Welcome(worker_id=worker_id)
            if resumed is not None:
                welcome.resumed_lease.CopyFrom(_lease_pb(resumed))
            return dispatcher_pb2.ConnectResponse(welcome=welcome)
        case OfferPush(offer, offered_at):
            task = offer.task
            # Never the gold answer: workers see the work, its purpose and its pay.
            return dispatcher_pb2.ConnectResponse(
                offer=dispatcher_pb2.Offer(
                    offer_id=offer.offer_id,
                    task_id=task.task_id,
                    task_type=task.task_type.name,
                    purpose=task.task_type.purpose,
                    price_micros=task.task_type.price_micros,
                    effort_seconds=task.task_type.effort_seconds,
                    payload=task.payload,
                    expires_at=to_timestamp(offer.expires_at),
                    offered_at=to_timestamp(offered_at),
                )
            )
        case LeasePush(lease, interval):
            return dispatcher_pb2.ConnectResponse(lease=_lease_pb(lease, interval))
        case OfferWithdrawnPush(offer_id, reason):
            return dispatcher_pb2.ConnectResponse(
                offer_withdrawn=dispatcher_pb2.OfferWithdrawn(offer_id=offer_id, reason=reason)
            )
        case SubmitAcceptedPush(lease_id, submission_id):
            return dispatcher_pb2.ConnectResponse(
                submit_accepted=dispatcher_pb2.SubmitAccepted(
                    lease_id=lease_id, submission_id=submission_id
                )
            )
        case ErrorPush(code, message, field):
            return _error(code, message, field)
        case Closed(reason):
            return _error(closed_code(reason), f"connection closed: {reason}", "connection")
