"""The worker's pay and reviews on the dispatcher's HTTP API, for the worker page.

  GET  /v1/worker/statement   the worker's statement from payroll: tasks, time, earnings
  GET  /v1/worker/reviews     the worker's reviews from scoring, newest first (?page_token=)
  POST /v1/worker/appeals     {"submission_id", "statement"}: appeal a rejection

The worker's token is passed on to payroll and scoring, which check it and answer only about
that worker. 404 when this deployment does not connect them; otherwise their answer's status
(401, 404, 409 window closed or not rejected, 422, 503).
"""

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, Response

from dispatcher.domain.errors import PeerRefusedError, Violation
from dispatcher.entrypoints.http_schemas import json_body
from dispatcher.entrypoints.http_worker import ProblemError
from dispatcher.service_layer.auth import UnauthenticatedError, WorkerAuth
from dispatcher.service_layer.ports import WorkerRecords

log = structlog.get_logger(__name__)

_STATUS = {
    "INVALID_ARGUMENT": 422,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 429,
}
_MAX_BODY_BYTES = 16 * 1024
APPEAL = {
    "type": "object",
    "required": ["submission_id", "statement"],
    "properties": {
        "submission_id": {"type": "string", "minLength": 1, "maxLength": 300},
        "statement": {"type": "string", "minLength": 1, "maxLength": 4000},
    },
}


def records_router(records: WorkerRecords | None, auth: WorkerAuth) -> APIRouter:
    api = _Records(records, auth)
    router = APIRouter()
    router.add_api_route("/v1/worker/statement", api.statement, methods=["GET"])
    router.add_api_route("/v1/worker/reviews", api.reviews, methods=["GET"])
    router.add_api_route(
        "/v1/worker/appeals", api.appeal, methods=["POST"], openapi_extra=json_body(APPEAL)
    )
    return router


class _Records:
    def __init__(self, records: WorkerRecords | None, auth: WorkerAuth) -> None:
        self._records = records
        self._auth = auth

    async def statement(self, request: Request) -> Response:
        return await self._answer(request, lambda t, w: self._ready().statement(t, w))

    async def reviews(self, request: Request) -> Response:
        page_token = request.query_params.get("page_token", "")
        return await self._answer(request, lambda t, _: self._ready().reviews(t, page_token))

    async def appeal(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > _MAX_BODY_BYTES:
            return _problem("RESOURCE_EXHAUSTED", f"at most {_MAX_BODY_BYTES} bytes", "body", 413)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _problem("INVALID_ARGUMENT", "the body is not JSON", "body")
        submission_id = parsed.get("submission_id") if isinstance(parsed, dict) else None
        statement = parsed.get("statement") if isinstance(parsed, dict) else None
        if not isinstance(submission_id, str) or not submission_id:
            return _problem("INVALID_ARGUMENT", "name the submission", "submission_id")
        if not isinstance(statement, str):
            return _problem("INVALID_ARGUMENT", "say why the rejection is wrong", "statement")
        return await self._answer(
            request, lambda t, _: self._ready().appeal(t, submission_id, statement)
        )

    def _ready(self) -> WorkerRecords:
        if self._records is None:
            raise PeerRefusedError("NOT_FOUND", "statements and reviews are not served here")
        return self._records

    async def _answer(
        self, request: Request, call: Callable[[str, str], Awaitable[dict[str, Any]]]
    ) -> Response:
        """Authenticates the worker, then `call(token, worker_id)`."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        try:
            claims = await self._auth.authenticate(token)
            body = await call(token, claims.worker_id)
        except UnauthenticatedError as error:
            return _problem("UNAUTHENTICATED", str(error), "token")
        except PeerRefusedError as error:
            return _problem(error.code, error.message)
        except Exception:
            # Redis away during the token check, a channel in a bad state: a retryable 503
            # with a log line, never a bare 500.
            log.exception("worker records call failed", path=request.url.path)
            return _problem("UNAVAILABLE", "not available just now; try again")
        return Response(orjson.dumps(body), 200, media_type="application/json")


def _problem(code: str, message: str, field: str = "", status: int | None = None) -> Response:
    violations = [Violation(field, message)] if field else []
    return ProblemError(code, message, field, violations).response(status or _STATUS.get(code, 503))
