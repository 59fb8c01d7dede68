"""The worker protocol as JSON, for the WebSocket and SSE transports.

It mirrors fairtask.v1.ConnectRequest / ConnectResponse: a frame is an object with exactly one
key, the name of the oneof field (`{"accept": {"offer_id": "..."}}` in, `{"offer": {...}}` out),
and field names are the proto's. Differences from proto3's own JSON mapping, all deliberate:
scalar fields are always present (no omitted defaults; welcome.resumed_lease only when there is
one); int64 amounts are JSON numbers (prices are far below 2**53); an offer also carries
`expires_in_ms`, so a countdown does not depend on the worker's clock agreeing with ours; input
fields nobody defined are refused rather than ignored, so a typo is not silently dropped. Bytes
(payload, draft, answer) are base64 (RFC 4648, with padding) both ways, as in proto3 JSON, so
binary payloads survive; the page decodes them as UTF-8 text. An error names the field it is
about ("submit.answer"), or the message ("accept") when the message as a whole was refused.

When the dispatcher ends a connection it says why first: `{"error": {"code": "ABORTED",
"field": "connection"}}` when a newer connection of the same worker took over (do not reconnect
by yourself), `"RESOURCE_EXHAUSTED"` when the client left more answers unread than a connection
holds, `"UNAVAILABLE"` otherwise, e.g. when the service restarts (reconnect with backoff). The
gRPC stream ends with the same StreamError.

The bodies of the plain POSTs (`/v1/worker/accept` etc.) are the inner objects of these frames.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import orjson

from dispatcher.domain.model import Lease, Offer
from dispatcher.service_layer.auth import HelloOverrides, RegisterWorker
from dispatcher.service_layer.sessions import (
    OVERFLOWED,
    SUPERSEDED,
    Closed,
    ErrorPush,
    LeasePush,
    OfferPush,
    OfferWithdrawnPush,
    Push,
    SubmitAcceptedPush,
    Welcome,
)

# Why the dispatcher ends a connection when the service stops (a Closed push with this reason).
SHUTTING_DOWN = "the dispatcher is restarting; reconnect"
_MAX_ID_CHARS = 128
_MAX_LIST = 64
FRAME_KINDS = ("hello", "accept", "decline", "heartbeat", "submit")


class FrameError(Exception):
    """A frame or body that cannot be understood; nothing was done about it."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class HelloRequest:
    token: str
    worker_id: str
    region: str
    overrides: HelloOverrides


@dataclass(frozen=True)
class AcceptRequest:
    offer_id: str
    kind: ClassVar[str] = "accept"


@dataclass(frozen=True)
class DeclineRequest:
    offer_id: str
    kind: ClassVar[str] = "decline"


@dataclass(frozen=True)
class HeartbeatRequest:
    lease_id: str
    draft: bytes | None  # None keeps the saved draft
    kind: ClassVar[str] = "heartbeat"


@dataclass(frozen=True)
class SubmitRequest:
    lease_id: str
    answer: bytes
    kind: ClassVar[str] = "submit"


WorkerRequest = HelloRequest | AcceptRequest | DeclineRequest | HeartbeatRequest | SubmitRequest
_FIELDS = {
    "hello": {
        "token",
        "worker_id",
        "region",
        "time_zone",
        "skills",
        "availability",
        "sensitive_opt_in",
    },
    "accept": {"offer_id"},
    "decline": {"offer_id"},
    "heartbeat": {"lease_id", "draft"},
    "submit": {"lease_id", "answer"},
}


def parse_frame(raw: str | bytes, max_bytes: int) -> WorkerRequest:
    """One WebSocket frame. Raises FrameError for an oversize, non-JSON or ill-formed frame."""
    # A str's UTF-8 length is at least its length in characters: most oversize frames are
    # refused without encoding them.
    if len(raw) > max_bytes or (isinstance(raw, str) and len(raw.encode()) > max_bytes):
        raise FrameError("RESOURCE_EXHAUSTED", f"a frame is at most {max_bytes} bytes", "frame")
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise FrameError("INVALID_ARGUMENT", "the frame is not JSON", "frame") from error
    if not isinstance(message, dict) or len(message) != 1:
        raise FrameError(
            "INVALID_ARGUMENT",
            f"a frame is an object with exactly one of {', '.join(FRAME_KINDS)}",
            "frame",
        )
    [(kind, body)] = message.items()
    return parse_message(kind, body)


def parse_message(kind: str, body: Any) -> WorkerRequest:
    """One message's body, as in a frame or a POST. Raises FrameError naming the field."""
    if kind not in _FIELDS:
        raise FrameError("INVALID_ARGUMENT", f"unknown message {kind[:40]!r}", "frame")
    if not isinstance(body, dict):
        raise FrameError("INVALID_ARGUMENT", "must be an object", kind)
    unknown = sorted(set(body) - _FIELDS[kind])
    if unknown:
        raise FrameError("INVALID_ARGUMENT", "unknown field", f"{kind}.{unknown[0][:40]}")
    at = _Fields(kind, body)
    match kind:
        case "accept":
            return AcceptRequest(at.id("offer_id"))
        case "decline":
            return DeclineRequest(at.id("offer_id"))
        case "heartbeat":
            draft = at.data("draft", required=False)
            return HeartbeatRequest(at.id("lease_id"), draft or None)
        case "submit":
            return SubmitRequest(at.id("lease_id"), at.data("answer", required=True) or b"")
    return HelloRequest(
        token=at.text("token") or "",
        worker_id=at.text("worker_id") or "",
        region=at.text("region") or "",
        overrides=HelloOverrides(
            time_zone=at.text("time_zone"),
            skills=at.texts("skills"),
            availability=at.texts("availability"),
            sensitive_opt_in=at.flag("sensitive_opt_in"),
        ),
    )


_REGISTRATION = {
    "worker_id",
    "region",
    "time_zone",
    "skills",
    "availability",
    "sensitive_opt_in",
}


def parse_registration(body: Any) -> RegisterWorker:
    """The body of POST /v1/workers. Raises FrameError for a wrong shape; the values themselves
    are checked by WorkerAuth.register."""
    if not isinstance(body, dict):
        raise FrameError("INVALID_ARGUMENT", "must be a JSON object", "")
    unknown = sorted(set(body) - _REGISTRATION)
    if unknown:
        raise FrameError("INVALID_ARGUMENT", "unknown field", unknown[0][:40])
    at = _Fields("", body)
    return RegisterWorker(
        region=at.text("region") or "",
        worker_id=at.text("worker_id") or "",
        time_zone=at.text("time_zone") or "UTC",
        skills=at.texts("skills") or (),
        availability=at.texts("availability") or (),
        sensitive_opt_in=bool(at.flag("sensitive_opt_in")),
    )


class _Fields:
    def __init__(self, kind: str, body: dict[str, Any]) -> None:
        self._kind = kind
        self._body = body

    def _bad(self, name: str, problem: str) -> FrameError:
        field = f"{self._kind}.{name}" if self._kind else name
        return FrameError("INVALID_ARGUMENT", problem, field)

    def id(self, name: str) -> str:
        value = self._body.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID_CHARS:
            raise self._bad(name, f"must be a string of 1-{_MAX_ID_CHARS} characters")
        return value

    def text(self, name: str) -> str | None:
        value = self._body.get(name)
        if value is not None and not isinstance(value, str):
            raise self._bad(name, "must be a string")
        return value

    def texts(self, name: str) -> tuple[str, ...] | None:
        value = self._body.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or len(value) > _MAX_LIST:
            raise self._bad(name, f"must be a list of at most {_MAX_LIST} strings")
        if not all(isinstance(item, str) for item in value):
            raise self._bad(name, "must be a list of strings")
        return tuple(value)

    def flag(self, name: str) -> bool | None:
        value = self._body.get(name)
        if value is not None and not isinstance(value, bool):
            raise self._bad(name, "must be true or false")
        return value

    def data(self, name: str, required: bool) -> bytes | None:
        value = self._body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise self._bad(name, "must be a base64 string")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as error:
            raise self._bad(name, "is not valid base64") from error


# -- out ------------------------------------------------------------------------------------
def push_frame(push: Push, now: datetime) -> dict[str, Any]:
    """What a push looks like on the JSON transports (never the task's gold answer)."""
    match push:
        case Welcome(worker_id, resumed):
            welcome: dict[str, Any] = {"worker_id": worker_id}
            if resumed is not None:
                welcome["resumed_lease"] = _lease(resumed, 0)
            return {"welcome": welcome}
        case OfferPush(offer, offered_at):
            return {"offer": _offer(offer, offered_at, now)}
        case LeasePush(lease, interval):
            return {"lease": _lease(lease, interval)}
        case OfferWithdrawnPush(offer_id, reason):
            return {"offer_withdrawn": {"offer_id": offer_id, "reason": reason}}
        case SubmitAcceptedPush(lease_id, submission_id):
            return {"submit_accepted": {"lease_id": lease_id, "submission_id": submission_id}}
        case ErrorPush(code, message, field):
            return error_frame(code, message, field)
        case Closed(reason):
            return error_frame(closed_code(reason), f"connection closed: {reason}", "connection")


def closed_code(reason: str) -> str:
    """The code a connection closed for `reason` ends with, on every transport. ABORTED: this
    connection lost to a newer one of the same worker; reconnecting by itself would only take
    it back. RESOURCE_EXHAUSTED: the client sent faster than it read its answers. UNAVAILABLE
    otherwise (the service restarting, a connection ended by another replica): come back, after
    a backoff."""
    return {SUPERSEDED: "ABORTED", OVERFLOWED: "RESOURCE_EXHAUSTED"}.get(reason, "UNAVAILABLE")


def error_frame(code: str, message: str, field: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def _offer(offer: Offer, offered_at: datetime, now: datetime) -> dict[str, Any]:
    task = offer.task
    return {
        "offer_id": offer.offer_id,
        "task_id": task.task_id,
        "task_type": task.task_type.name,
        "purpose": task.task_type.purpose,
        "price_micros": task.task_type.price_micros,
        "effort_seconds": task.task_type.effort_seconds,
        "payload": _b64(task.payload),
        "expires_at": _rfc3339(offer.expires_at),
        "expires_in_ms": max(int((offer.expires_at - now).total_seconds() * 1000), 0),
        # Microseconds: a client on the dispatcher's clock measures push delays with it.
        "offered_at": _rfc3339(offered_at, "microseconds"),
    }


def _lease(lease: Lease, heartbeat_interval_s: int) -> dict[str, Any]:
    return {
        "lease_id": lease.lease_id,
        "task_id": lease.task.task_id,
        "payload": _b64(lease.task.payload),
        "draft": _b64(lease.draft),
        "heartbeat_interval_seconds": heartbeat_interval_s,
        "task_type": lease.task.task_type.name,
        "purpose": lease.task.task_type.purpose,
        "price_micros": lease.task.task_type.price_micros,
        "effort_seconds": lease.task.task_type.effort_seconds,
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _rfc3339(moment: datetime, timespec: str = "milliseconds") -> str:
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")
