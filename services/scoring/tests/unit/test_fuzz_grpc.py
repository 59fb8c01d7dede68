"""Fuzzing scoring's gRPC API over a real loopback server backed by fakes: whatever arrives,
the answer is a client error, a list, or a stream that stays open until the client leaves, and
nothing changes (no request made of random bytes names a review that exists)."""

import asyncio
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairtask.v1 import scoring_pb2, scoring_pb2_grpc
from fairtask_fuzzing import tally
from fairtask_fuzzing.grpc_calls import CLIENT_ERRORS, call_raw, methods, request_bytes, serving
from fairtask_fuzzing.state import state_of
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.grpc.identity import Metadata
from fairtask_runtime.grpc.sample_callers import credentials_at
from fairtask_runtime.grpc.server import GrpcServer
from scoring.adapters.memory import MemoryPorts
from scoring.entrypoints.grpc_api import ResultsServicer
from scoring.entrypoints.grpc_reviews import ReviewServicer, WorkerReviewServicer
from scoring.service_layer.handlers import WatchConfig

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
METHODS = methods(scoring_pb2.DESCRIPTOR, unary=False)
# A watch with a valid cursor streams until the client leaves: the deadline is how it leaves.
WATCH_S = 0.2
UNARY_S = 10.0
SERVICE_NAMES = [s.full_name for s in scoring_pb2.DESCRIPTOR.services_by_name.values()]
Served = tuple[grpc.Channel, MemoryPorts, list[Metadata]]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    clock = FakeClock()
    who = asyncio.run(credentials_at(clock))
    platforms = who.platforms
    # Allowed callers first: a platform, a worker; then a forged key and nobody.
    callers = [
        who.platform,
        who.workers["w-1"],
        (("authorization", "Bearer ftk_0123456789abcdef_" + "x" * 40),),
        (),
    ]
    ports = MemoryPorts()
    handlers = ports.handlers(clock, WatchConfig(batch=2, block_s=0.05))

    def build() -> GrpcServer:
        results = ResultsServicer(handlers, platforms)
        reviews = ReviewServicer(handlers.reviews, platforms)
        workers = WorkerReviewServicer(handlers.reviews, who.callers)
        return GrpcServer(
            SERVICE_NAMES,
            [
                lambda s: scoring_pb2_grpc.add_ResultsServiceServicer_to_server(results, s),
                lambda s: scoring_pb2_grpc.add_ReviewServiceServicer_to_server(reviews, s),
                lambda s: scoring_pb2_grpc.add_WorkerReviewServiceServicer_to_server(workers, s),
            ],
        )

    with serving(build) as (_, channel):
        yield channel, ports, callers


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
@FUZZ
@given(data=st.data())
def test_any_request_gets_a_client_answer_and_changes_nothing(
    served: Served, method: Any, data: st.DataObject
) -> None:
    channel, ports, callers = served
    raw = data.draw(request_bytes(method))
    metadata = data.draw(st.sampled_from(callers))
    fakes = (ports.tasks, ports.marks, ports.results, ports.events, ports.reviews)
    before = state_of(*fakes)

    # Only a stream needs the short deadline; a unary answer may be slow on a busy machine.
    timeout_s = WATCH_S if method.server_streaming else UNARY_S
    code = call_raw(channel, method, raw, metadata=metadata, timeout_s=timeout_s)

    tally.tried(f"scoring.{method.name}")
    # Only a platform with a valid key gets a stream that stays open; a signed-in caller may
    # get a list (of nothing).
    allowed = set(CLIENT_ERRORS)
    if metadata == callers[0] and method.server_streaming:
        allowed.add(grpc.StatusCode.DEADLINE_EXCEEDED)
    if metadata in callers[:2] and method.name.startswith("List"):
        allowed.add(grpc.StatusCode.OK)
    assert code in allowed, f"{method.name} answered {code} to {raw!r:.300}"
    assert state_of(*fakes) == before
