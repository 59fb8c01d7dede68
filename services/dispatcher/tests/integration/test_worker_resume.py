"""A lease survives a dropped connection and is resumed, draft and all, from any transport; a
newer connection replaces an older one; stopping the service ends every open stream."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from worker_clients import Lab, Running, SseWorker, WsWorker, b64, running, settings_for, unb64

from dispatcher.entrypoints.ws_worker import RESTARTING
from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg

pytestmark = pytest.mark.integration


async def barrier(worker: WsWorker) -> None:
    """Returns once the dispatcher has handled every frame sent before (it handles them in
    order, and answers this one with an error)."""
    await worker.send({"accept": {"offer_id": "barrier"}})
    assert (await worker.next("error"))["code"] == "NOT_FOUND"


async def gone(app: Running, worker_id: str) -> None:
    """Waits until the dispatcher has seen the worker leave (and started the grace period)."""
    for _ in range(100):
        if app.service.dispatch.session(worker_id) is None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{worker_id} still connected")


async def lease_over_ws(lab: Lab, token: str, draft: bytes) -> dict[str, Any]:
    async with WsWorker.open(lab.app.ws_url()) as worker:
        await worker.hello(token)
        offer = await worker.next("offer")
        await worker.send({"accept": {"offer_id": offer["offer_id"]}})
        lease = await worker.next("lease")
        await worker.send({"heartbeat": {"lease_id": lease["lease_id"], "draft": b64(draft)}})
        await barrier(worker)
    return lease  # and the WebSocket drops


async def test_a_lease_taken_over_websocket_is_resumed_over_sse(app: Running) -> None:
    lab = await app.lab()
    await lab.submit("resume-1")
    token = await lab.register("w-resume")
    lease = await lease_over_ws(lab, token, b"half a car")
    await gone(app, f"{lab.name}-w-resume")
    async with SseWorker.open(app.http, token) as worker:
        resumed = (await worker.next("welcome"))["resumed_lease"]
        assert resumed["lease_id"] == lease["lease_id"]
        assert unb64(resumed["draft"]) == b"half a car"
        assert (await worker.next("lease"))["lease_id"] == lease["lease_id"]
        answer = {"lease_id": lease["lease_id"], "answer": b64(b"a whole car")}
        assert (await worker.post("submit", answer)).status_code == 200
        assert (await worker.next("submit_accepted"))["lease_id"] == lease["lease_id"]


async def test_a_lease_taken_over_grpc_is_resumed_over_websocket(app: Running) -> None:
    lab = await app.lab()
    await lab.submit("resume-2")
    token = await lab.register("w-grpc")
    outgoing: asyncio.Queue[d.ConnectRequest] = asyncio.Queue()

    async def requests() -> AsyncIterator[d.ConnectRequest]:
        while True:
            yield await outgoing.get()

    call = dg.WorkerServiceStub(app.channel).Connect(requests())
    await outgoing.put(d.ConnectRequest(hello=d.Hello(token=token)))

    async def read(kind: str) -> d.ConnectResponse:
        message = await asyncio.wait_for(call.read(), 10)
        assert isinstance(message, d.ConnectResponse)
        assert message.WhichOneof("message") == kind, message
        return message

    await read("welcome")
    offer = (await read("offer")).offer
    await outgoing.put(d.ConnectRequest(accept=d.Accept(offer_id=offer.offer_id)))
    lease = (await read("lease")).lease
    assert (lease.price_micros, lease.task_type) == (400_000, lab.name)
    beat = d.Heartbeat(lease_id=lease.lease_id, draft=b"from the phone")
    await outgoing.put(d.ConnectRequest(heartbeat=beat))
    await outgoing.put(d.ConnectRequest(accept=d.Accept(offer_id="barrier")))
    await read("error")
    call.cancel()  # the phone's battery dies
    await gone(app, f"{lab.name}-w-grpc")
    async with WsWorker.open(app.ws_url()) as worker:
        resumed = (await worker.hello(token))["resumed_lease"]
        assert (resumed["lease_id"], unb64(resumed["draft"])) == (lease.lease_id, b"from the phone")
        await worker.next("lease")
        await worker.send({"submit": {"lease_id": lease.lease_id, "answer": b64(b"done")}})
        assert (await worker.next("submit_accepted"))["lease_id"] == lease.lease_id


async def test_connecting_over_websocket_replaces_the_event_stream(app: Running) -> None:
    lab = await app.lab()
    await lab.submit("replace")
    token = await lab.register()
    async with SseWorker.open(app.http, token) as old:
        await old.next("welcome")
        offer = await old.next("offer")
        await old.post("accept", {"offer_id": offer["offer_id"]})
        lease = await old.next("lease")
        await old.post("heartbeat", {"lease_id": lease["lease_id"], "draft": b64(b"typed")})
        async with WsWorker.open(app.ws_url()) as new:
            resumed = (await new.hello(token))["resumed_lease"]
            assert unb64(resumed["draft"]) == b"typed"
            closed = await old.next("error")
            assert (closed["code"], closed["field"]) == ("ABORTED", "connection")
            with pytest.raises(AssertionError, match="ended"):
                await old.event()
            # POSTs now act on the newer connection, whichever transport it uses.
            submit = {"lease_id": lease["lease_id"], "answer": b64(b"typed more")}
            assert (await old.post("submit", submit)).status_code == 200
            await new.next("lease")
            assert (await new.next("submit_accepted"))["lease_id"] == lease["lease_id"]


async def test_stopping_the_service_ends_every_stream(
    stack_endpoints: Any, kafka_topics: str
) -> None:
    settings = settings_for(stack_endpoints, kafka_topics, sse_keepalive_s=60)
    async with running(settings) as app:
        sse_token = (await app.http.post("/v1/workers", json={"region": "ph"})).json()["token"]
        ws_token = (await app.http.post("/v1/workers", json={"region": "ph"})).json()["token"]
        async with (
            SseWorker.open(app.http, sse_token) as sse,
            WsWorker.open(app.ws_url()) as ws,
        ):
            await sse.next("welcome")
            await ws.hello(ws_token)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.wait_for(app.stop(), 10)
            assert loop.time() - started < 5  # not held up by the never-ending event stream
            assert (await sse.next("error"))["code"] == "UNAVAILABLE"
            assert (await ws.next("error"))["code"] == "UNAVAILABLE"
        assert ws.socket.close_code == RESTARTING
        assert app.service.dispatch.connected == 0
