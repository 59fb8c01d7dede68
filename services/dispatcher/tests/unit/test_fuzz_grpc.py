"""Fuzzing every request of the dispatcher's gRPC API, over a real loopback server.

Each request type's messages come from its descriptor (fairtask_fuzzing), so an RPC added later
is fuzzed too. Whatever arrives, the answer is OK or a client error with a reason (never
UNKNOWN, INTERNAL or a dropped call), and a refused request leaves every store unchanged.
"""

import copy
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from dispatcher_world import World
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.adapters.memory_workers import MemoryWorkerRegistry
from dispatcher.entrypoints.grpc_platform import PlatformServicer
from dispatcher.entrypoints.grpc_worker import WorkerServicer
from dispatcher.service_layer.auth import RegisterWorker, WorkerAuth
from fairtask.v1 import dispatcher_pb2, dispatcher_pb2_grpc
from fairtask_fuzzing import tally
from fairtask_fuzzing.grpc_calls import CLIENT_ERRORS, call_raw, methods, serving
from fairtask_fuzzing.loop_thread import LoopThread
from fairtask_fuzzing.messages import messages
from fairtask_runtime.api_keys.store import MemoryPlatformKeys
from fairtask_runtime.grpc.identity import PlatformAuthenticator
from fairtask_runtime.grpc.server import GrpcServer
from fairtask_runtime.worker_tokens import JwtTokenCodec

SECRET = "fuzzing-secret-that-is-long-enough-0123456789"
UNARY = methods(dispatcher_pb2.DESCRIPTOR)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Served:
    world: World
    registry: MemoryWorkerRegistry
    channel: grpc.Channel
    key: str
    token: str
    loop: LoopThread

    def snapshot(self) -> Any:
        w = self.world
        return copy.deepcopy(
            (
                w.store.state,
                w.task_types._types,
                list(w.events.events),
                repr(self.registry.__dict__),
            )
        )

    def call(
        self, method: Any, raw: bytes, metadata: tuple[tuple[str, str], ...]
    ) -> grpc.StatusCode:
        return call_raw(self.channel, method, raw, metadata)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    world = World()
    ids = itertools.count(1)
    registry = MemoryWorkerRegistry(world.clock)
    auth = WorkerAuth(
        JwtTokenCodec(SECRET), registry, world.clock, 3600.0, new_id=lambda: f"w-{next(ids)}"
    )
    keys = MemoryPlatformKeys(world.clock)
    names = [s.full_name for s in dispatcher_pb2.DESCRIPTOR.services_by_name.values()]
    servicers = [
        lambda s: dispatcher_pb2_grpc.add_PlatformServiceServicer_to_server(
            PlatformServicer(world.platform, PlatformAuthenticator(keys, 0.0)), s
        ),
        lambda s: dispatcher_pb2_grpc.add_WorkerServiceServicer_to_server(
            WorkerServicer(world.dispatch, auth, 0.5), s
        ),
    ]
    with serving(lambda: GrpcServer(names, servicers)) as (loop, channel):
        key = loop.run(keys.issue("lab-a")).key
        token = loop.run(auth.register(RegisterWorker(region="ph", worker_id="ana"))).token
        yield Served(world, registry, channel, key, token, loop)


def credentials(served: Served, which: str) -> tuple[tuple[str, str], ...]:
    return {
        "platform": (("authorization", f"Bearer {served.key}"),),
        "worker": (("authorization", f"Bearer {served.token}"),),
        "none": (),
        "forged": (("authorization", "Bearer ftk_nope.nope"),),
    }[which]


@pytest.mark.parametrize("method", UNARY, ids=lambda m: m.name)
@FUZZ
@given(data=st.data(), who=st.sampled_from(["platform", "worker", "none", "forged"]))
def test_any_request_gets_an_answer_and_a_refusal_changes_nothing(
    served: Served, method: Any, data: st.DataObject, who: str
) -> None:
    request = data.draw(messages(method.input_type))
    before = served.snapshot()

    code = served.call(method, request.SerializeToString(), credentials(served, who))

    tally.tried(f"dispatcher.{method.name}")
    assert code in CLIENT_ERRORS, f"{method.name} answered {code} to {request!r:.300}"
    if code != grpc.StatusCode.OK:
        assert served.snapshot() == before


@pytest.mark.parametrize("method", UNARY, ids=lambda m: m.name)
@FUZZ
@given(raw=st.binary(max_size=512))
def test_bytes_that_are_not_a_request_are_refused_as_invalid(
    served: Served, method: Any, raw: bytes
) -> None:
    before = served.snapshot()

    code = served.call(method, raw, credentials(served, "platform"))

    tally.tried(f"dispatcher.{method.name}.bytes")
    assert code in CLIENT_ERRORS
    if code != grpc.StatusCode.OK:
        assert served.snapshot() == before


def test_a_corrupt_request_is_invalid_argument_with_the_expected_type(served: Served) -> None:
    method = served.channel.unary_unary("/fairtask.v1.PlatformService/GetTask")

    with pytest.raises(grpc.RpcError) as refused:
        method(b"\xff\xff\xff", timeout=10, metadata=credentials(served, "platform"))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid message" in refused.value.details()
    assert "GetTaskRequest" in refused.value.details()


def frames(served: Served) -> st.SearchStrategy[list[bytes]]:
    """A worker stream: perhaps a good hello first, then anything, well formed or not."""
    good_hello = dispatcher_pb2.ConnectRequest(hello=dispatcher_pb2.Hello(token=served.token))
    request = messages(dispatcher_pb2.ConnectRequest.DESCRIPTOR).map(
        lambda m: m.SerializeToString()
    )
    first = st.sampled_from([good_hello.SerializeToString()]) | request
    return st.tuples(first, st.lists(request | st.binary(max_size=64), max_size=6)).map(
        lambda t: [t[0], *t[1]]
    )


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_any_worker_stream_gets_answers_and_a_client_status(
    served: Served, data: st.DataObject
) -> None:
    sent = data.draw(frames(served))
    connect = served.channel.stream_stream("/fairtask.v1.WorkerService/Connect")
    answers: list[bytes] = []
    code = grpc.StatusCode.OK
    try:
        for answer in connect(iter(sent), timeout=10):
            answers.append(answer)
    except grpc.RpcError as error:
        code = error.code()

    tally.tried("dispatcher.Connect", len(sent))
    assert code in CLIENT_ERRORS, f"Connect ended with {code} after {sent!r:.300}"
    for answer in answers:
        dispatcher_pb2.ConnectResponse.FromString(answer)


def test_a_corrupt_frame_ends_that_worker_stream_as_invalid_argument(served: Served) -> None:
    hello = dispatcher_pb2.ConnectRequest(hello=dispatcher_pb2.Hello(token=served.token))
    connect = served.channel.stream_stream("/fairtask.v1.WorkerService/Connect")
    answers: list[dispatcher_pb2.ConnectResponse] = []
    stream = connect(iter([hello.SerializeToString(), b"\xff\xff\xff"]), timeout=10)

    with pytest.raises(grpc.RpcError) as ended:
        answers.extend(dispatcher_pb2.ConnectResponse.FromString(a) for a in stream)

    assert ended.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ConnectRequest" in ended.value.details()
    assert [a.WhichOneof("message") for a in answers][:1] == ["welcome"]
