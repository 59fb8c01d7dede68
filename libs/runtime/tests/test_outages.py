"""A request that fails on an unreachable backing server is UNAVAILABLE (clients retry it),
not UNKNOWN; other failures keep their status."""

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import redis.exceptions

from fairtask_runtime.grpc.server import GrpcServer

METHOD = "/fairtask.test.Outage/Call"


class Failing:
    def __init__(self) -> None:
        self.failure: BaseException | None = None

    async def __call__(self, request: bytes, context: Any) -> bytes:
        if self.failure is not None:
            raise self.failure
        return b"ok"

    def register(self, server: grpc.aio.Server) -> None:
        handler = grpc.method_handlers_generic_handler(
            "fairtask.test.Outage", {"Call": grpc.unary_unary_rpc_method_handler(self)}
        )
        server.add_generic_rpc_handlers((handler,))


@pytest.fixture
async def served() -> AsyncIterator[tuple[Failing, grpc.aio.UnaryUnaryMultiCallable[Any, Any]]]:
    failing = Failing()
    server = GrpcServer([], [failing.register])
    port = await server.start("127.0.0.1", 0)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield failing, channel.unary_unary(METHOD)
    await server.stop(0)


@pytest.mark.parametrize(
    "failure",
    [
        redis.exceptions.ConnectionError("Connection closed by server."),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        ConnectionRefusedError(111, "Connect call failed"),
    ],
    ids=lambda f: type(f).__name__,
)
async def test_an_unreachable_backing_server_is_unavailable(
    served: tuple[Failing, Any], failure: BaseException
) -> None:
    failing, call = served
    assert await call(b"", timeout=5) == b"ok"
    failing.failure = failure

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(b"", timeout=5)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry" in (caught.value.details() or "")


async def test_a_bug_is_still_unknown(served: tuple[Failing, Any]) -> None:
    failing, call = served
    failing.failure = KeyError("a bug, not an outage")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(b"", timeout=5)

    assert caught.value.code() == grpc.StatusCode.UNKNOWN
