"""The request bodies of the worker HTTP API, as OpenAPI documents them.

The handlers parse bodies themselves (worker_frames, shared with the WebSocket), so these
schemas only describe: they let clients, and schemathesis in the tests, know what to send.
"""

from typing import Any

_TEXT = {"type": "string", "maxLength": 200}
_TEXTS = {"type": "array", "items": _TEXT, "maxItems": 50}
_BASE64 = {"type": "string", "format": "byte", "description": "base64"}

REGISTRATION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["region"],
    "properties": {
        "worker_id": _TEXT,
        "region": _TEXT,
        "time_zone": {**_TEXT, "description": "IANA name, e.g. Asia/Manila"},
        "skills": _TEXTS,
        "availability": {**_TEXTS, "description": 'local windows such as "08:00-12:00"'},
        "sensitive_opt_in": {"type": "boolean"},
    },
}
_OFFER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["offer_id"],
    "properties": {"offer_id": _TEXT},
}
ACTIONS: dict[str, dict[str, Any]] = {
    "accept": _OFFER,
    "decline": _OFFER,
    "heartbeat": {
        "type": "object",
        "additionalProperties": False,
        "required": ["lease_id"],
        "properties": {"lease_id": _TEXT, "draft": _BASE64},
    },
    "submit": {
        "type": "object",
        "additionalProperties": False,
        "required": ["lease_id", "answer"],
        "properties": {"lease_id": _TEXT, "answer": _BASE64},
    },
}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body has `schema`."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
