"""The gRPC worker stream: what reaches a worker's screen (the work, its purpose and its pay, never
the gold answer), and what a connection leaves behind when it fails."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from dispatcher_world import (
    START,
    World,
    assert_gone_and_grace_runs,
    drain,
    hello,
    in_grace,
    make_task,
    offers_in,
    store_replies_late,
)

from dispatcher.domain.errors import InvalidInputError
from dispatcher.domain.model import Lease, Offer
from dispatcher.entrypoints.grpc_worker import WorkerServicer, _hello_of, _to_pb
from dispatcher.entrypoints.worker_frames import SHUTTING_DOWN, push_frame
from dispatcher.service_layer.auth import WorkerClaims
from dispatcher.service_layer.sessions import (
    OVERFLOWED,
    SUPERSEDED,
    Closed,
    ErrorPush,
    LeasePush,
    OfferPush,
    Push,
    Welcome,
)
from fairtask.v1 import dispatcher_pb2

GOLD = "GOLD-ANSWER-7f3a9c"


def leaked(push: Push) -> bool:
    response = _to_pb(push)
    serialized = response.SerializeToString()
    return GOLD.encode() in serialized or GOLD in str(response)


def test_an_offer_shows_the_work_but_not_the_gold_answer() -> None:
    task = make_task("c1", gold=GOLD)
    offer = Offer("o1", task, "w1", START + timedelta(minutes=2))

    response = _to_pb(OfferPush(offer, START))

    assert not leaked(OfferPush(offer, START))
    shown = response.offer
    assert (shown.offer_id, shown.task_id, shown.task_type, shown.purpose) == (
        "o1",
        task.task_id,
        "bbox",
        task.task_type.purpose,
    )
    assert (shown.price_micros, shown.effort_seconds, shown.payload) == (
        400_000,
        90,
        task.payload,
    )
    assert shown.expires_at.ToDatetime().replace(tzinfo=START.tzinfo) == offer.expires_at
    assert shown.offered_at.ToDatetime().replace(tzinfo=START.tzinfo) == START


def test_the_offer_message_has_no_field_that_could_carry_gold() -> None:
    names = {f.name for f in dispatcher_pb2.Offer.DESCRIPTOR.fields}
    names |= {f.name for f in dispatcher_pb2.Lease.DESCRIPTOR.fields}

    assert not any("gold" in name for name in names)


def test_leases_and_resumed_leases_do_not_carry_the_gold_answer() -> None:
    lease = Lease("l1", make_task("c1", gold=GOLD), "w1", "eu", "o1", START, START, b"draft")

    assert not leaked(LeasePush(lease, 10))
    assert not leaked(Welcome("w1", lease))
    assert _to_pb(Welcome("w1", lease)).welcome.resumed_lease.draft == b"draft"


CLAIMS = WorkerClaims(
    worker_id="w1",
    region="eu",
    time_zone="Europe/Berlin",
    skills=("en",),
    availability=("08:00-20:00",),
    sensitive_opt_in=True,
    token_id="t1",
    issued_at=START,
    expires_at=START + timedelta(days=1),
)


def test_the_worker_is_the_tokens_and_empty_hello_fields_keep_the_registration() -> None:
    hello = _hello_of(dispatcher_pb2.Hello(), CLAIMS)

    assert (hello.worker_id, hello.region, hello.skills) == ("w1", "eu", frozenset({"en"}))
    assert (hello.time_zone, hello.availability) == ("Europe/Berlin", ("08:00-20:00",))
    # proto3 cannot tell an unset bool from false: opting in to sensitive work is explicit.
    assert not hello.sensitive_opt_in


def test_a_hello_changes_preferences_for_its_connection() -> None:
    given = dispatcher_pb2.Hello(
        worker_id="w1",
        region="eu",
        skills=["vision", "en"],
        time_zone="Asia/Manila",
        availability=["09:00-17:00"],
        sensitive_opt_in=True,
    )

    hello = _hello_of(given, CLAIMS)

    assert (hello.worker_id, hello.region) == ("w1", "eu")
    assert hello.skills == frozenset({"vision", "en"})
    assert (hello.time_zone, hello.availability) == ("Asia/Manila", ("09:00-17:00",))
    assert hello.sensitive_opt_in


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (dispatcher_pb2.Hello(worker_id="someone-else"), "hello.worker_id"),
        (dispatcher_pb2.Hello(region="us"), "hello.region"),
        (dispatcher_pb2.Hello(time_zone="Mars/Olympus"), "hello.time_zone"),
        (dispatcher_pb2.Hello(time_zone="America"), "hello.time_zone"),
        (dispatcher_pb2.Hello(availability=["25:00-26:00"]), "hello.availability[0]"),
        (dispatcher_pb2.Hello(skills=["Not A Skill"]), "hello.skills[0]"),
    ],
)
def test_a_hello_that_disagrees_with_the_token_or_is_wrong_is_refused(
    given: dispatcher_pb2.Hello, field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _hello_of(given, CLAIMS)

    assert [v.field for v in caught.value.violations] == [field]


def servicer_for(world: World) -> WorkerServicer:
    async def authenticate(token: str) -> WorkerClaims:
        return CLAIMS

    auth = SimpleNamespace(authenticate=authenticate)
    return WorkerServicer(world.dispatch, auth, hello_timeout_s=1)  # type: ignore[arg-type]


async def test_a_client_gone_while_connecting_leaves_no_connection_and_its_grace_runs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lease_id = await in_grace(world)
    made = store_replies_late(world, monkeypatch)

    async def requests() -> AsyncIterator[dispatcher_pb2.ConnectRequest]:
        yield dispatcher_pb2.ConnectRequest(hello=dispatcher_pb2.Hello(token="t"))
        await asyncio.Event().wait()

    context = SimpleNamespace(invocation_metadata=lambda: ())
    stream = servicer_for(world).Connect(requests(), context)  # type: ignore[arg-type]
    welcome = asyncio.create_task(anext(stream))  # type: ignore[arg-type]
    await made.wait()
    welcome.cancel()  # the client hung up: grpc cancels the call
    with pytest.raises(asyncio.CancelledError):
        await welcome

    await assert_gone_and_grace_runs(world, lease_id)


async def test_a_message_that_fails_is_answered_unavailable_and_the_stream_stays(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.dispatch.ingest(make_task("c1"))
    session = await world.dispatch.connect(hello("w1"))
    await world.dispatch._dispatch_round()
    [offer] = offers_in(drain(session))

    async def timed_out(*args: object) -> None:
        raise ConnectionError("Redis timed out")

    monkeypatch.setattr(world.dispatch, "heartbeat", timed_out)

    async def requests() -> AsyncIterator[dispatcher_pb2.ConnectRequest]:
        yield dispatcher_pb2.ConnectRequest(heartbeat=dispatcher_pb2.Heartbeat(lease_id="l1"))
        yield dispatcher_pb2.ConnectRequest(
            accept=dispatcher_pb2.Accept(offer_id=offer.offer.offer_id)
        )

    await servicer_for(world)._read(requests(), session)

    refused, leased, ended = drain(session)
    assert refused == ErrorPush("UNAVAILABLE", "could not be done just now; try again", "heartbeat")
    assert isinstance(leased, LeasePush)
    assert ended == Closed("stream ended")  # when the client's requests ended, not before
    assert session.lease_id == leased.lease.lease_id


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (SUPERSEDED, "ABORTED"),  # do not reconnect by yourself
        (OVERFLOWED, "RESOURCE_EXHAUSTED"),
        (SHUTTING_DOWN, "UNAVAILABLE"),
        ("connect again: your connection was ended", "UNAVAILABLE"),
    ],
)
def test_a_stream_closes_saying_what_the_json_transports_say(reason: str, code: str) -> None:
    closed = _to_pb(Closed(reason)).error

    assert (closed.code, closed.field) == (code, "connection")
    assert push_frame(Closed(reason), START)["error"] == {
        "code": closed.code,
        "message": closed.message,
        "field": closed.field,
    }
