"""Fuzzing scoring's gRPC API over a real loopback server backed by fakes: whatever arrives,
the answer is OK (a stream that stays open until the client leaves) or a client error, and a
watch changes nothing."""

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
from fairtask_runtime.api_keys import MemoryPlatformKeys
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.grpc.identity import Metadata, PlatformAuthenticator, bearer
from fairtask_runtime.grpc.server import GrpcServer
from scoring.adapters.memory import MemoryPorts
from scoring.entrypoints.grpc_api import ResultsServicer
from scoring.service_layer.handlers import ScoringHandlers, WatchConfig

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
METHODS = methods(scoring_pb2.DESCRIPTOR, unary=False)
# A watch with a valid cursor streams until the client leaves: the deadline is how it leaves.
WATCH_S = 0.2
SERVICE_NAME = scoring_pb2.DESCRIPTOR.services_by_name["ResultsService"].full_name
Served = tuple[grpc.Channel, MemoryPorts, list[Metadata]]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    keys = MemoryPlatformKeys()
    lab = asyncio.run(keys.issue("lab-a"))
    callers = [bearer(lab.key), bearer("ftk_0123456789abcdef_" + "x" * 40), ()]
    ports = MemoryPorts()
    handlers = ScoringHandlers(
        ports.tasks,
        ports.marks,
        ports.results,
        ports.events,
        FakeClock(),
        WatchConfig(batch=2, block_s=0.05),
    )

    def build() -> GrpcServer:
        servicer = ResultsServicer(handlers, PlatformAuthenticator(keys))
        return GrpcServer(
            [SERVICE_NAME],
            [lambda s: scoring_pb2_grpc.add_ResultsServiceServicer_to_server(servicer, s)],
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
    before = state_of(ports.tasks, ports.marks, ports.results, ports.events)

    code = call_raw(channel, method, raw, metadata=metadata, timeout_s=WATCH_S)

    tally.tried(f"scoring.{method.name}")
    # Only a platform with a valid key gets a stream that stays open.
    streaming = {grpc.StatusCode.DEADLINE_EXCEEDED} if metadata == callers[0] else set()
    assert code in CLIENT_ERRORS | streaming, f"{method.name} answered {code} to {raw!r:.300}"
    assert state_of(ports.tasks, ports.marks, ports.results, ports.events) == before
