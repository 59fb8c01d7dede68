"""The worker WebSocket against real Redis and Kafka: the work, and every way to get it wrong."""

import asyncio
from typing import Any

import orjson
import pytest
from websockets.exceptions import ConnectionClosed
from worker_clients import PURPOSE, Running, WsWorker, b64, unb64

from dispatcher.entrypoints.ws_worker import BAD_HELLO, HELLO_TIMEOUT, REPLACED, UNAUTHENTICATED

pytestmark = pytest.mark.integration


async def closed_with(worker: WsWorker) -> int | None:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(worker.socket.recv(), 5)
    return worker.socket.close_code


async def test_offer_accept_heartbeat_submit(app: Running) -> None:
    lab = await app.lab()
    task_id = await lab.submit("ws-1", payload="a street in Manila 🚗".encode())
    token = await lab.register("w-ws")
    async with WsWorker.open(app.ws_url()) as worker:
        welcome = await worker.hello(token, time_zone="Asia/Manila")
        assert welcome == {"worker_id": f"{lab.name}-w-ws"}
        offer = await worker.next("offer")
        assert (offer["task_id"], offer["purpose"], offer["price_micros"]) == (
            task_id,
            PURPOSE,
            400_000,
        )
        assert unb64(offer["payload"]).decode() == "a street in Manila 🚗"
        assert 0 < offer["expires_in_ms"] <= 2000
        assert offer["expires_at"].endswith("Z")
        await worker.send({"accept": {"offer_id": offer["offer_id"]}})
        lease = await worker.next("lease")
        assert (lease["task_id"], lease["price_micros"], lease["purpose"]) == (
            task_id,
            400_000,
            PURPOSE,
        )
        await worker.send({"heartbeat": {"lease_id": lease["lease_id"], "draft": b64(b"a car")}})
        await worker.send({"submit": {"lease_id": lease["lease_id"], "answer": b64(b"car")}})
        accepted = await worker.next("submit_accepted")
        assert accepted["lease_id"] == lease["lease_id"]
        await worker.send({"submit": {"lease_id": lease["lease_id"], "answer": b64(b"car")}})
        again = await worker.next("error")
        assert (again["code"], again["field"]) == ("ALREADY_EXISTS", "submit")
    status = await app.service.platform.get_task("lab-a", task_id)
    assert (status.state, status.worker_id) == ("submitted", f"{lab.name}-w-ws")


@pytest.mark.parametrize(
    "frame",
    [
        "not json {",
        '["accept"]',
        '{"accept": {"offer_id": "x"}, "decline": {"offer_id": "x"}}',
        '{"teleport": {}}',
        '{"accept": "x"}',
        '{"accept": {"offerId": "x"}}',
        '{"accept": {"offer_id": 7}}',
        '{"submit": {"lease_id": "l", "answer": "%%% not base64"}}',
        "x" * (400 * 1024),
    ],
)
async def test_a_malformed_or_oversize_frame_gets_an_error_and_the_connection_stays_up(
    app: Running, frame: str
) -> None:
    lab = await app.lab()
    await lab.submit("malformed")
    token = await lab.register()
    async with WsWorker.open(app.ws_url()) as worker:
        await worker.hello(token)
        offer = await worker.next("offer")
        await worker.socket.send(frame)
        error = await worker.next("error")
        assert error["code"] in {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"}
        assert error["message"]
        # Nothing changed: the offer is still ours to accept on the same connection.
        await worker.send({"accept": {"offer_id": offer["offer_id"]}})
        assert (await worker.next("lease"))["task_id"] == offer["task_id"]


async def test_an_oversize_answer_is_refused_with_the_field(app: Running) -> None:
    lab = await app.lab()
    token = await lab.register()
    async with WsWorker.open(app.ws_url()) as worker:
        await worker.hello(token)
        await worker.send({"submit": {"lease_id": "l", "answer": b64(b"x" * (257 * 1024))}})
        error = await worker.next("error")
        assert (error["code"], error["field"]) == ("INVALID_ARGUMENT", "submit.answer")


async def test_accepting_an_offer_that_is_not_yours_or_expired_changes_nothing(
    app: Running,
) -> None:
    lab = await app.lab()
    await lab.submit("contested")
    holder, other = await lab.register("w-holder"), await lab.register("w-other")
    async with WsWorker.open(app.ws_url()) as a, WsWorker.open(app.ws_url()) as b:
        await a.hello(holder)
        offer = await a.next("offer")
        await b.hello(other)
        await b.send({"accept": {"offer_id": offer["offer_id"]}})
        refused = await b.next("error")
        assert (refused["code"], refused["field"]) == ("NOT_FOUND", "accept")
        # The offer expires (ttl 2 s); it costs the holder nothing and cannot be accepted.
        withdrawn = await a.next("offer_withdrawn", wait_s=5)
        assert withdrawn == {"offer_id": offer["offer_id"], "reason": "expired"}
        await a.send({"accept": {"offer_id": offer["offer_id"]}})
        assert (await next_skipping_offers(a, "error"))["code"] == "NOT_FOUND"


async def next_skipping_offers(worker: WsWorker, kind: str) -> dict[str, Any]:
    """The next `kind`, past any new offer (an expired task is offered again at once)."""
    while True:
        frame = orjson.loads(await asyncio.wait_for(worker.socket.recv(), 5))
        if "offer" not in frame:
            assert list(frame) == [kind], frame
            body: dict[str, Any] = frame[kind]
            return body


@pytest.mark.parametrize("where", ["hello", "query"])
async def test_a_bad_token_closes_with_4401_and_connects_nobody(app: Running, where: str) -> None:
    lab = await app.lab()
    token = await lab.register("w-victim")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    url = app.ws_url(f"?token={forged}" if where == "query" else "")
    async with WsWorker.open(url) as worker:
        if where == "hello":
            await worker.send({"hello": {"token": forged}})
        error = await worker.next("error")
        assert (error["code"], error["field"]) == ("UNAUTHENTICATED", "token")
        assert await closed_with(worker) == UNAUTHENTICATED
    assert app.service.dispatch.session(f"{lab.name}-w-victim") is None


async def test_hello_problems_close_the_connection_with_the_reason(app: Running) -> None:
    lab = await app.lab()
    token = await lab.register("w-hello", region="ph")
    cases: list[tuple[Any, str]] = [
        ({"accept": {"offer_id": "x"}}, "hello"),
        ({"hello": {"token": token, "time_zone": "Mars/Olympus"}}, "hello.time_zone"),
        ({"hello": {"token": token, "worker_id": "someone-else"}}, "hello.worker_id"),
        ({"hello": {"token": token, "region": "us"}}, "hello.region"),
        ({"hello": {"token": token, "availability": ["9-5"]}}, "hello.availability[0]"),
    ]
    for frame, field in cases:
        async with WsWorker.open(app.ws_url()) as worker:
            await worker.send(frame)
            error = await worker.next("error")
            assert (error["code"], error["field"]) == ("INVALID_ARGUMENT", field)
            assert await closed_with(worker) == BAD_HELLO
    async with WsWorker.open(app.ws_url()) as silent:
        assert (await silent.next("error"))["code"] == "DEADLINE_EXCEEDED"
        assert await closed_with(silent) == HELLO_TIMEOUT
    assert app.service.dispatch.session(f"{lab.name}-w-hello") is None


async def test_a_newer_connection_replaces_the_older_one(app: Running) -> None:
    lab = await app.lab()
    token = await lab.register()
    async with WsWorker.open(app.ws_url()) as first, WsWorker.open(app.ws_url()) as second:
        await first.hello(token)
        await second.hello(token)
        closed = await first.next("error")
        assert (closed["code"], closed["field"]) == ("ABORTED", "connection")
        assert await closed_with(first) == REPLACED
        await second.send({"hello": {"token": token}})
        assert (await second.next("error"))["code"] == "FAILED_PRECONDITION"
