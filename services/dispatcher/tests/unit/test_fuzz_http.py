"""Fuzzing the worker HTTP API from its OpenAPI schema (schemathesis), in process over ASGI.

Bodies that fit the schema and bodies that break it, with a good token and with none: never a
5xx, and a refused request changes no worker's registration, offer or lease.
"""

import asyncio
import itertools
import json
from typing import Any

import orjson
import schemathesis
from dispatcher_world import World
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from starlette.testclient import TestClient

from dispatcher.adapters.memory_workers import MemoryWorkerRegistry
from dispatcher.entrypoints.http_worker import worker_router
from dispatcher.entrypoints.page import mount_worker_page
from dispatcher.entrypoints.worker_connections import TransportConfig, WorkerConnections
from dispatcher.service_layer.auth import RegisterWorker, WorkerAuth
from fairtask_fuzzing import tally
from fairtask_fuzzing.state import state_of
from fairtask_runtime.http.app import build_http_app
from fairtask_runtime.worker_tokens import JwtTokenCodec

SECRET = "fuzzing-secret-that-is-long-enough-0123456789"

world = World()
registry = MemoryWorkerRegistry(world.clock)
_ids = itertools.count(1)
auth = WorkerAuth(
    JwtTokenCodec(SECRET), registry, world.clock, 3600.0, new_id=lambda: f"w-{next(_ids)}"
)
app = build_http_app("dispatcher")
app.include_router(
    worker_router(WorkerConnections(world.dispatch), auth, world.clock, TransportConfig())
)
mount_worker_page(app)

# The event stream is endless for a good token; its refusals are tested with the transports.
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/v1/worker/events")


def fresh_token() -> str:
    """A case may sign its worker out or rotate the token: each starts with a new worker."""
    return asyncio.run(auth.register(RegisterWorker(region="ph"))).token


def snapshot() -> Any:
    return state_of(world.store.state, registry)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error_or_changes_state_when_refused(case: Any) -> None:
    for headers in ({"Authorization": f"Bearer {fresh_token()}"}, {}):
        before = snapshot()
        response = case.call(headers=headers)
        tally.tried("dispatcher.http")
        case.validate_response(response, checks=[not_a_server_error])
        if response.status_code >= 400:
            assert snapshot() == before, f"{case.method} {case.path} -> {response.status_code}"


# JSON as a careless or hostile client writes it: any shape, any nesting, frame kinds mixed in.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
_frames = st.one_of(
    _json.map(json.dumps),  # big integers, NaN and Infinity included
    st.dictionaries(
        st.sampled_from(["accept", "decline", "heartbeat", "submit", "x"]),
        _json,
        min_size=1,
        max_size=2,
    ).map(json.dumps),
    st.text(max_size=64),
    st.integers(390_000, 500_000).map(lambda n: '{"submit": {"answer": "' + "A" * n + '"}}'),
)
ALREADY_SAID_HELLO = {
    "error": {"code": "FAILED_PRECONDITION", "message": "already said hello", "field": "hello"}
}
FRAME_CODES = {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED"}
# A second hello: its answer is unmistakable, and the fuzzed frames never are hellos.
PROBE = '{"hello": {}}'


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(sent=st.lists(_frames, min_size=1, max_size=5))
def test_malformed_websocket_frames_get_error_frames_and_the_connection_stays_up(
    sent: list[str],
) -> None:
    with TestClient(app) as client, client.websocket_connect("/v1/worker/ws") as ws:
        ws.send_text(orjson.dumps({"hello": {"token": fresh_token()}}).decode())
        assert "welcome" in ws.receive_json()
        before = snapshot()
        for frame in sent:
            ws.send_text(frame)
        tally.tried("dispatcher.ws", len(sent))
        # The probe's answer comes last: every frame before it has been answered by then.
        ws.send_text(PROBE)
        while (answer := ws.receive_json()) != ALREADY_SAID_HELLO:
            assert set(answer) == {"error"}, answer
            assert answer["error"]["code"] in FRAME_CODES, answer
        assert snapshot() == before
