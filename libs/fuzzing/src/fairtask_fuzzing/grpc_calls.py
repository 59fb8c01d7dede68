"""Calling any method of a service with fuzzed bytes, and what a client may be answered."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from hypothesis import strategies as st

from fairtask_fuzzing.loop_thread import LoopThread, loop_thread
from fairtask_fuzzing.messages import messages
from fairtask_runtime.grpc.server import GrpcServer

# What a client may be told; anything else (UNKNOWN, INTERNAL, UNAVAILABLE...) is a server fault.
CLIENT_ERRORS = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)


def methods(file_descriptor: Any, unary: bool = True) -> list[Any]:
    """Every method of every service in a .proto file; only request-response ones if `unary`."""
    return [
        method
        for service in file_descriptor.services_by_name.values()
        for method in service.methods
        if not unary or not (method.client_streaming or method.server_streaming)
    ]


def request_bytes(method: Any) -> st.SearchStrategy[bytes]:
    """What a client might send to `method`: a message drawn from its request type, encoded,
    or raw bytes."""
    return messages(method.input_type).map(lambda m: m.SerializeToString()) | st.binary(
        max_size=256
    )


def path_of(method: Any) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def call_raw(
    channel: grpc.Channel,
    method: Any,
    raw: bytes,
    metadata: tuple[tuple[str, str], ...] = (),
    timeout_s: float = 10.0,
) -> grpc.StatusCode:
    """Sends `raw` as the request; for a server stream, reads it to its end."""
    # No serializers: the bytes go out as they are.
    try:
        if method.server_streaming:
            stream: grpc.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(
                path_of(method)
            )
            for _ in stream(raw, timeout=timeout_s, metadata=metadata):
                pass
        else:
            unary: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path_of(method))
            unary(raw, timeout=timeout_s, metadata=metadata)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK


@contextmanager
def serving(build: Callable[[], GrpcServer]) -> Iterator[tuple[LoopThread, grpc.Channel]]:
    """A server made by `build` on loopback, in a loop thread of its own, and a blocking channel
    to it: a Hypothesis test calls it synchronously, and state is quiet between calls."""

    async def start() -> tuple[GrpcServer, int]:
        # Built inside the loop that runs it: grpc.aio binds a server to the loop it is made in.
        server = build()
        return server, await server.start("127.0.0.1", 0)

    with loop_thread() as loop:
        server, port = loop.run(start())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield loop, channel
        finally:
            channel.close()
            loop.run(server.stop(0))
