"""Simulated workers on the real transports: a gRPC stream or a WebSocket each. A worker that
works accepts every offer at once and submits at once; one that only holds its connection never
gets an offer (it lacks the task type's skill) and just listens."""

import asyncio
import base64
from datetime import datetime

import grpc
import orjson
from websockets.asyncio.client import ClientConnection, connect

from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg
from fairtask_bench.recorder import Recorder


class WorkerRefusedError(RuntimeError):
    """The server did not welcome a worker."""


async def register(
    stub: "dg.WorkerServiceAsyncStub",
    worker_id: str,
    region: str,
    skill: str,
    availability: list[str],
) -> str:
    reply = await stub.RegisterWorker(
        d.RegisterWorkerRequest(
            worker_id=worker_id, region=region, skills=[skill], availability=availability
        ),
        timeout=60,
    )
    return reply.token


Call = grpc.aio.StreamStreamCall[d.ConnectRequest, d.ConnectResponse]


class GrpcWorker:
    def __init__(self, call: Call) -> None:
        self._call = call

    @classmethod
    async def open(cls, stub: "dg.WorkerServiceAsyncStub", token: str) -> "GrpcWorker":
        call = stub.Connect(metadata=(("authorization", f"Bearer {token}"),))
        await call.write(d.ConnectRequest(hello=d.Hello()))
        first = await asyncio.wait_for(call.read(), 60)
        if not isinstance(first, d.ConnectResponse) or first.WhichOneof("message") != "welcome":
            call.cancel()
            raise WorkerRefusedError(f"gRPC hello answered with {first}")
        return cls(call)

    async def run(self, recorder: Recorder) -> None:
        call = self._call
        while True:
            message = await call.read()
            if not isinstance(message, d.ConnectResponse):
                return  # the stream ended
            kind = message.WhichOneof("message")
            if kind == "offer":
                offer = message.offer
                recorder.offered(
                    offer.offered_at.seconds + offer.offered_at.nanos * 1e-9, offer.payload
                )
                await call.write(d.ConnectRequest(accept=d.Accept(offer_id=offer.offer_id)))
            elif kind == "lease":
                submit = d.Submit(lease_id=message.lease.lease_id, answer=b"ok")
                await call.write(d.ConnectRequest(submit=submit))
            elif kind == "error":
                recorder.error(message.error.code)

    def close(self) -> None:
        self._call.cancel()


_ANSWER = base64.b64encode(b"ok").decode()


class WsWorker:
    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket

    @classmethod
    async def open(cls, url: str, token: str) -> "WsWorker":
        # Like a browser: no client pings, and permessage-deflate offered (the default).
        socket = await connect(url, open_timeout=60, ping_interval=None)
        await socket.send(_text({"hello": {"token": token}}))
        first = orjson.loads(await asyncio.wait_for(socket.recv(), 60))
        if "welcome" not in first:
            await socket.close()
            raise WorkerRefusedError(f"WebSocket hello answered with {first}")
        return cls(socket)

    async def run(self, recorder: Recorder) -> None:
        socket = self._socket
        async for raw in socket:
            frame = orjson.loads(raw)
            if "offer" in frame:
                offer = frame["offer"]
                offered_at = datetime.fromisoformat(offer["offered_at"]).timestamp()
                recorder.offered(offered_at, base64.b64decode(offer["payload"]))
                await socket.send(_text({"accept": {"offer_id": offer["offer_id"]}}))
            elif "lease" in frame:
                lease_id = frame["lease"]["lease_id"]
                await socket.send(_text({"submit": {"lease_id": lease_id, "answer": _ANSWER}}))
            elif "error" in frame:
                recorder.error(frame["error"]["code"])

    async def close(self) -> None:
        await self._socket.close()


def _text(frame: object) -> str:
    # A text frame, as the worker page sends.
    return orjson.dumps(frame).decode()
