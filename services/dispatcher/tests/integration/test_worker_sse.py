"""Server-sent events plus plain POSTs, for networks that block WebSockets."""

import pytest
from worker_clients import PURPOSE, Running, SseWorker, b64, bearer, unb64

from dispatcher.domain.model import submission_id_for

pytestmark = pytest.mark.integration


async def test_offer_accept_heartbeat_submit(app: Running) -> None:
    lab = await app.lab()
    task_id = await lab.submit("sse-1", payload=b"two cars")
    token = await lab.register("w-sse")
    params = {"time_zone": "Africa/Nairobi", "availability": ["00:00-12:00", "12:00-24:00"]}
    async with SseWorker.open(app.http, token, params) as worker:
        assert (await worker.next("welcome"))["worker_id"] == f"{lab.name}-w-sse"
        offer = await worker.next("offer")
        assert (offer["task_id"], offer["purpose"], unb64(offer["payload"])) == (
            task_id,
            PURPOSE,
            b"two cars",
        )
        accepted = await worker.post("accept", {"offer_id": offer["offer_id"]})
        assert (accepted.status_code, accepted.json()) == (200, {"ok": True})
        lease = await worker.next("lease")
        beat = await worker.post("heartbeat", {"lease_id": lease["lease_id"], "draft": b64(b"2")})
        assert beat.status_code == 200
        done = await worker.post("submit", {"lease_id": lease["lease_id"], "answer": b64(b"2")})
        submission_id = submission_id_for(lease["lease_id"])
        assert (done.status_code, done.json()) == (
            200,
            {"ok": True, "submission_id": submission_id},
        )
        assert (await worker.next("submit_accepted"))["submission_id"] == submission_id
        again = await worker.post("submit", {"lease_id": lease["lease_id"], "answer": b64(b"2")})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "ALREADY_EXISTS"


async def test_an_idle_stream_gets_keepalive_comments(app: Running) -> None:
    lab = await app.lab()
    token = await lab.register()
    async with SseWorker.open(app.http, token) as worker:
        await worker.next("welcome")
        # sse_keepalive_s is 0.5 in these tests (15 s by default); comments never end an event.
        with pytest.raises(TimeoutError):
            await worker.event(wait_s=1.6)
        assert worker.comments[:2] == [": keepalive", ": keepalive"]


@pytest.mark.parametrize(
    ("action", "body", "status", "field"),
    [
        ("accept", b"{not json", 422, "body"),
        ("accept", b'{"offer_id": 5}', 422, "accept.offer_id"),
        ("accept", b'{"offer_id": "x", "extra": 1}', 422, "accept.extra"),
        ("decline", b"[]", 422, "decline"),
        ("heartbeat", b'{"lease_id": "l", "draft": "***"}', 422, "heartbeat.draft"),
        ("submit", b'{"lease_id": "l"}', 422, "submit.answer"),
        ("submit", b'{"lease_id": "l", "answer": "' + b"A" * 400_000 + b'"}', 413, "body"),
    ],
)
async def test_malformed_posts_get_4xx_and_change_nothing(
    app: Running, action: str, body: bytes, status: int, field: str
) -> None:
    lab = await app.lab()
    await lab.submit("malformed")
    token = await lab.register()
    async with SseWorker.open(app.http, token) as worker:
        await worker.next("welcome")
        offer = await worker.next("offer")
        reply = await app.http.post(
            f"/v1/worker/{action}",
            content=body,
            headers=bearer(token) | {"Content-Type": "application/json"},
        )
        assert reply.status_code == status, reply.text
        assert reply.json()["error"]["field"] == field
        accepted = await worker.post("accept", {"offer_id": offer["offer_id"]})
        assert accepted.status_code == 200


async def test_not_your_offer_or_lease_is_404_and_not_connected_is_409(app: Running) -> None:
    lab = await app.lab()
    await lab.submit("contested")
    holder, other = await lab.register(), await lab.register()
    lonely = await app.http.post("/v1/worker/accept", json={"offer_id": "x"}, headers=bearer(other))
    assert lonely.status_code == 409
    assert lonely.json()["error"]["field"] == "connection"
    async with SseWorker.open(app.http, holder) as a, SseWorker.open(app.http, other) as b:
        await a.next("welcome")
        await b.next("welcome")
        offer = await a.next("offer")
        stolen = await b.post("accept", {"offer_id": offer["offer_id"]})
        assert (stolen.status_code, stolen.json()["error"]["code"]) == (404, "NOT_FOUND")
        await a.post("accept", {"offer_id": offer["offer_id"]})
        lease = await a.next("lease")
        for action, body in (
            ("heartbeat", {"lease_id": lease["lease_id"]}),
            ("submit", {"lease_id": lease["lease_id"], "answer": b64(b"mine now")}),
        ):
            refused = await b.post(action, body)
            assert (refused.status_code, refused.json()["error"]["field"]) == (404, action)
        # The offer expired while unanswered: accepting it is refused, and costs nothing.
        await lab.submit("to-expire")
        late = await b.next("offer")
        assert (await b.next("offer_withdrawn", wait_s=5))["reason"] == "expired"
        expired = await b.post("accept", {"offer_id": late["offer_id"]})
        assert expired.status_code in {404, 409}


@pytest.mark.parametrize("where", ["header", "query"])
async def test_a_bad_token_is_401_on_the_stream_and_the_posts(app: Running, where: str) -> None:
    lab = await app.lab()
    token = await lab.register("w-victim")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    if where == "header":
        reply = await app.http.get("/v1/worker/events", headers=bearer(forged))
    else:
        reply = await app.http.get("/v1/worker/events", params={"token": forged})
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "UNAUTHENTICATED"
    assert reply.headers["www-authenticate"].startswith("Bearer")
    for action in ("accept", "decline", "heartbeat", "submit"):
        refused = await app.http.post(f"/v1/worker/{action}", json={}, headers=bearer(forged))
        assert refused.status_code == 401
    anonymous = await app.http.post("/v1/worker/accept", json={"offer_id": "x"})
    assert anonymous.status_code == 401
    assert app.service.dispatch.session(f"{lab.name}-w-victim") is None


async def test_a_bad_hello_in_the_query_is_422_before_the_stream(app: Running) -> None:
    lab = await app.lab()
    token = await lab.register()
    for params, field in (
        ({"time_zone": "Mars/Olympus"}, "hello.time_zone"),
        ({"availability": "noon"}, "hello.availability[0]"),
        ({"sensitive_opt_in": "maybe"}, "hello.sensitive_opt_in"),
    ):
        reply = await app.http.get("/v1/worker/events", headers=bearer(token), params=params)
        assert reply.status_code == 422
        assert reply.json()["error"]["field"] == field
