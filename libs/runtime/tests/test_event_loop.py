"""The services run on uvloop unless FAIRTASK_EVENT_LOOP says otherwise; grpc.aio works on it
(the dispatcher's worker streams are bidirectional)."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import uvloop

from fairtask_runtime.grpc.server import GrpcServer
from fairtask_runtime.service import event_loop_factory
from fairtask_runtime.settings import ServiceSettings

METHOD = "/fairtask.test.Echo/Chat"


async def _echo(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request.upper()


def _register(server: grpc.aio.Server) -> None:
    handler = grpc.method_handlers_generic_handler(
        "fairtask.test.Echo", {"Chat": grpc.stream_stream_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers((handler,))


async def _chat() -> list[bytes]:
    server = GrpcServer([], [_register])
    port = await server.start("127.0.0.1", 0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.stream_stream(METHOD)()
            answers = []
            for word in (b"offer", b"lease"):
                await call.write(word)
                answers.append(await call.read())
            await call.done_writing()
            return answers
    finally:
        await server.stop(0)


def test_the_default_loop_is_uvloop_and_can_be_turned_off() -> None:
    assert ServiceSettings().event_loop == "uvloop"
    assert event_loop_factory("uvloop") is uvloop.new_event_loop
    assert event_loop_factory("asyncio") is None


def test_a_grpc_stream_runs_on_uvloop() -> None:
    with asyncio.Runner(loop_factory=event_loop_factory("uvloop")) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
        assert runner.run(_chat()) == [b"OFFER", b"LEASE"]
