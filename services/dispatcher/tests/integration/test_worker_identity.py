"""Registration and tokens over HTTP and gRPC: who a connection is comes from its token only."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from worker_clients import SECRET, Running, SseWorker, WsWorker, bearer

from dispatcher.entrypoints.ws_worker import UNAUTHENTICATED
from dispatcher.service_layer.auth import WorkerClaims
from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg
from fairtask_runtime.grpc.errors import field_violations_of
from fairtask_runtime.worker_tokens import JwtTokenCodec

pytestmark = pytest.mark.integration


async def test_registration_mints_or_claims_an_id_and_the_token_says_who(app: Running) -> None:
    minted = await app.http.post("/v1/workers", json={"region": "ke"})
    assert minted.status_code == 201
    me = await app.http.get("/v1/worker/me", headers=bearer(minted.json()["token"]))
    assert me.json()["worker_id"] == minted.json()["worker_id"]
    assert me.json()["worker_id"].startswith("w-")
    assert (me.json()["region"], me.json()["time_zone"]) == ("ke", "UTC")
    lab = await app.lab()
    body = {"worker_id": f"{lab.name}-amara", "region": "ke", "time_zone": "Africa/Nairobi"}
    claimed = await app.http.post("/v1/workers", json=body)
    assert claimed.json()["worker_id"] == f"{lab.name}-amara"
    taken = await app.http.post("/v1/workers", json=body | {"region": "ph"})
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "ALREADY_EXISTS")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b"{oops", ["body"]),
        (b"[]", [""]),
        (b'{"region": "ph", "colour": "blue"}', ["colour"]),
        (b'{"region": 5}', ["region"]),
        (b'{"region": "ph", "skills": "en"}', ["skills"]),
        (
            b'{"worker_id": "../x", "region": "", "time_zone": "Mars/Olympus",'
            b' "skills": ["EN"], "availability": ["7-9"]}',
            ["worker_id", "region", "time_zone", "skills[0]", "availability[0]"],
        ),
    ],
)
async def test_bad_registrations_are_422_with_every_field_named(
    app: Running, body: bytes, fields: list[str]
) -> None:
    reply = await app.http.post(
        "/v1/workers", content=body, headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    # Values are checked together, one violation each; a body of the wrong shape names one field.
    assert ([v["field"] for v in error["violations"]] or [error["field"]]) == fields


async def test_a_revoked_token_is_refused_by_every_transport(app: Running) -> None:
    lab = await app.lab()
    token = await lab.register("w-leaving")
    assert (await app.http.delete("/v1/worker/token", headers=bearer(token))).status_code == 204
    again = await app.http.delete("/v1/worker/token", headers=bearer(token))
    assert again.status_code == 204  # signing out twice is fine
    me = await app.http.get("/v1/worker/me", headers=bearer(token))
    assert (me.status_code, me.json()["error"]["message"]) == (401, "the token has been revoked")
    events = await app.http.get("/v1/worker/events", headers=bearer(token))
    assert events.status_code == 401
    async with WsWorker.open(app.ws_url()) as ws:
        await ws.send({"hello": {"token": token}})
        assert (await ws.next("error"))["code"] == "UNAUTHENTICATED"
    assert ws.socket.close_code == UNAUTHENTICATED
    error, status = await grpc_refusal(app, token)
    assert (error.code, status) == ("UNAUTHENTICATED", grpc.StatusCode.UNAUTHENTICATED)
    assert app.service.dispatch.session(f"{lab.name}-w-leaving") is None


async def test_refreshing_rotates_the_token(app: Running) -> None:
    lab = await app.lab()
    old = await lab.register()
    fresh = await app.http.post("/v1/worker/token", headers=bearer(old))
    assert fresh.status_code == 200
    assert (await app.http.get("/v1/worker/me", headers=bearer(old))).status_code == 401
    new = fresh.json()["token"]
    async with SseWorker.open(app.http, new) as worker:
        assert (await worker.next("welcome"))["worker_id"] == fresh.json()["worker_id"]


async def test_an_expired_token_is_refused(app: Running) -> None:
    lab = await app.lab()
    now = datetime.now(UTC).replace(microsecond=0)
    claims = WorkerClaims(
        worker_id=f"{lab.name}-late",
        region="ph",
        time_zone="UTC",
        skills=(),
        availability=(),
        sensitive_opt_in=False,
        token_id="t-late",
        issued_at=now - timedelta(days=8),
        expires_at=now - timedelta(seconds=1),
    )
    token = JwtTokenCodec(SECRET).encode(claims)  # signed with the service's own secret
    expired = await app.http.get("/v1/worker/events", headers=bearer(token))
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    async with WsWorker.open(app.ws_url(f"?token={token}")) as ws:
        assert "expired" in (await ws.next("error"))["message"]
    error, _ = await grpc_refusal(app, token)
    assert "expired" in error.message
    assert app.service.dispatch.session(claims.worker_id) is None


async def grpc_refusal(
    app: Running, token: str, metadata: tuple[tuple[str, str], ...] = ()
) -> tuple[d.StreamError, grpc.StatusCode]:
    """The StreamError and final status of a Connect call presenting `token`."""

    async def hello() -> AsyncIterator[d.ConnectRequest]:
        yield d.ConnectRequest(hello=d.Hello(token=token))
        await asyncio.sleep(5)

    call = dg.WorkerServiceStub(app.channel).Connect(hello(), metadata=metadata)
    first = await asyncio.wait_for(call.read(), 5)
    assert isinstance(first, d.ConnectResponse)
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await asyncio.wait_for(call.read(), 5)
    return first.error, ended.value.code()


async def test_grpc_registers_and_takes_the_token_in_hello_or_metadata(app: Running) -> None:
    lab = await app.lab()
    stub = dg.WorkerServiceStub(app.channel)
    registered = await stub.RegisterWorker(
        d.RegisterWorkerRequest(
            worker_id=f"{lab.name}-grpc", region="ph", availability=["00:00-24:00"]
        ),
        timeout=5,
    )
    assert registered.worker_id == f"{lab.name}-grpc"
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.RegisterWorker(
            d.RegisterWorkerRequest(region="", time_zone="Nowhere/Land"), timeout=5
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations_of(bad.value)} == {"region", "time_zone"}
    with pytest.raises(grpc.aio.AioRpcError) as taken:
        await stub.RegisterWorker(
            d.RegisterWorkerRequest(worker_id=f"{lab.name}-grpc", region="ph"), timeout=5
        )
    assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS

    for metadata, in_hello in (
        ((), registered.token),
        ((("authorization", f"Bearer {registered.token}"),), ""),
    ):

        async def hello(token: str = in_hello) -> AsyncIterator[d.ConnectRequest]:
            yield d.ConnectRequest(hello=d.Hello(token=token))
            await asyncio.sleep(5)

        call = stub.Connect(hello(), metadata=metadata)
        welcome = await asyncio.wait_for(call.read(), 5)
        assert isinstance(welcome, d.ConnectResponse)
        assert welcome.welcome.worker_id == f"{lab.name}-grpc"
        call.cancel()
        await asyncio.sleep(0.1)

    forged = registered.token[:-4] + ("AAAA" if not registered.token.endswith("AAAA") else "BBBB")
    error, status = await grpc_refusal(app, "", (("authorization", f"Bearer {forged}"),))
    assert (error.code, error.field, status) == (
        "UNAUTHENTICATED",
        "token",
        grpc.StatusCode.UNAUTHENTICATED,
    )
    error, status = await grpc_refusal(app, "")
    assert (error.code, status) == ("UNAUTHENTICATED", grpc.StatusCode.UNAUTHENTICATED)
