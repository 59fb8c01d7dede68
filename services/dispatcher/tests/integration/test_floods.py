"""Floods against real Redis and Kafka: a platform or a worker sending far past its rate is
refused with the time to wait, and everyone else goes on being served."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest
from websockets.exceptions import ConnectionClosed
from worker_clients import Running, WsWorker, b64, dispatcher_for_tests

from dispatcher.entrypoints.ws_worker import OVERFLOWING
from fairtask.v1 import dispatcher_pb2 as d
from fairtask_runtime.grpc.errors import retry_delay_of

pytestmark = pytest.mark.integration

PLATFORM_RATE = 30  # calls per second
WORKER_RATE = 10  # messages per second
FLOOD = 300


@pytest.fixture(scope="module")
async def limited(stack_endpoints: Any) -> AsyncIterator[Running]:
    async with dispatcher_for_tests(
        stack_endpoints,
        offer_ttl_s=60.0,
        platform_rate_limit=f"{PLATFORM_RATE}/second",
        worker_rate_limit=f"{WORKER_RATE}/second",
    ) as app:
        yield app


async def test_a_flooding_platform_is_throttled_and_another_is_served(limited: Running) -> None:
    flooder = await limited.lab(platform_id="flooder")
    other = await limited.lab(platform_id="patient")
    token = await other.register("w-patient")
    unknown = d.GetTaskRequest(task_id="00000000-0000-0000-0000-000000000000")

    async def flood_call() -> grpc.StatusCode:
        try:
            await limited.platform.GetTask(unknown, metadata=flooder.as_platform, timeout=10)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                delay = retry_delay_of(error)
                assert delay is not None
                assert 0 < delay <= 1.0
            return error.code()
        return grpc.StatusCode.OK

    flood = asyncio.gather(*(flood_call() for _ in range(FLOOD)))
    # Meanwhile the other platform submits and its worker gets the task.
    async with WsWorker.open(limited.ws_url()) as worker:
        await worker.hello(token)
        started = time.monotonic()
        task_id = await other.submit("during-the-flood")
        offer = await worker.next("offer", wait_s=10)
        offered_after_s = time.monotonic() - started
    codes = await flood

    assert offer["task_id"] == task_id
    assert offered_after_s < 5
    refused = codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert refused >= FLOOD - 2 * PLATFORM_RATE  # the flood took at most ~2 windows
    assert set(codes) <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.NOT_FOUND}


async def test_a_flooding_worker_is_refused_and_another_works_on(limited: Running) -> None:
    lab = await limited.lab()
    flooder_token = await lab.register("w-flooder")
    worker_token = await lab.register("w-worker")
    async with (
        WsWorker.open(limited.ws_url()) as flooder,
        WsWorker.open(limited.ws_url()) as worker,
    ):
        await flooder.hello(flooder_token, skills=["none-of-these"])
        await worker.hello(worker_token)
        for i in range(FLOOD):
            await flooder.send({"decline": {"offer_id": f"nothing-{i}"}})
        task_id = await lab.submit("while-flooded")
        offer = await worker.next("offer", wait_s=10)
        await worker.send({"accept": {"offer_id": offer["offer_id"]}})
        lease = await worker.next("lease")
        await worker.send({"submit": {"lease_id": lease["lease_id"], "answer": b64(b"car")}})
        await worker.next("submit_accepted")
        codes, close_code = await answers_to(flooder)

    assert offer["task_id"] == task_id
    # Each message is refused past the rate; a flooder that also leaves its answers unread is
    # cut off (4429) instead of being buffered for without limit.
    # Which of the two comes first depends on how fast the server writes: the answers queued
    # before the cut-off are dropped with the connection.
    assert set(codes) <= {"RESOURCE_EXHAUSTED", "NOT_FOUND"}
    assert close_code in (None, OVERFLOWING)
    if close_code is None:
        assert codes.count("RESOURCE_EXHAUSTED") >= FLOOD - 2 * WORKER_RATE


async def answers_to(flooder: WsWorker) -> tuple[list[str], int | None]:
    """The error codes the flooder was sent, until it has one per message or is cut off."""
    codes: list[str] = []
    try:
        while len(codes) < FLOOD:
            frame = orjson.loads(await asyncio.wait_for(flooder.socket.recv(), 10))
            error = frame["error"]
            if error["field"] == "connection":
                assert error["code"] == "RESOURCE_EXHAUSTED"
                continue
            codes.append(error["code"])
    except ConnectionClosed:
        return codes, flooder.socket.close_code
    return codes, None


async def test_a_worker_past_its_rate_on_plain_posts_gets_429_with_retry_after(
    limited: Running,
) -> None:
    lab = await limited.lab()
    token = await lab.register("w-poster")
    headers = {"Authorization": f"Bearer {token}"}
    async with WsWorker.open(limited.ws_url()) as connected:
        await connected.hello(token)
        answers = [
            await limited.http.post(
                "/v1/worker/decline", json={"offer_id": f"o-{i}"}, headers=headers
            )
            for i in range(WORKER_RATE + 5)
        ]

    statuses = [a.status_code for a in answers]
    assert statuses[:WORKER_RATE] == [404] * WORKER_RATE
    assert 429 in statuses[WORKER_RATE:]
    throttled = next(a for a in answers if a.status_code == 429)
    assert throttled.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
    assert throttled.headers["Retry-After"] == "1"
