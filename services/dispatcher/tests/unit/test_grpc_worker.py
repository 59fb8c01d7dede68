"""What reaches a worker's screen: the work, its purpose and its pay, never the gold answer."""

from datetime import timedelta

import pytest
from dispatcher_world import START, make_task

from dispatcher.domain.model import Lease, Offer
from dispatcher.entrypoints.grpc_worker import _hello_of, _to_pb
from dispatcher.service_layer.sessions import LeasePush, OfferPush, Push, Welcome
from fairtask.v1 import dispatcher_pb2

GOLD = "GOLD-ANSWER-7f3a9c"


def leaked(push: Push) -> bool:
    response = _to_pb(push)
    serialized = response.SerializeToString()
    return GOLD.encode() in serialized or GOLD in str(response)


def test_an_offer_shows_the_work_but_not_the_gold_answer() -> None:
    task = make_task("c1", gold=GOLD)
    offer = Offer("o1", task, "w1", START + timedelta(minutes=2))

    response = _to_pb(OfferPush(offer))

    assert not leaked(OfferPush(offer))
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


def test_the_offer_message_has_no_field_that_could_carry_gold() -> None:
    names = {f.name for f in dispatcher_pb2.Offer.DESCRIPTOR.fields}
    names |= {f.name for f in dispatcher_pb2.Lease.DESCRIPTOR.fields}

    assert not any("gold" in name for name in names)


def test_leases_and_resumed_leases_do_not_carry_the_gold_answer() -> None:
    lease = Lease("l1", make_task("c1", gold=GOLD), "w1", "eu", "o1", START, START, b"draft")

    assert not leaked(LeasePush(lease, 10))
    assert not leaked(Welcome("w1", lease))
    assert _to_pb(Welcome("w1", lease)).welcome.resumed_lease.draft == b"draft"


def request(**hello: object) -> dispatcher_pb2.ConnectRequest:
    return dispatcher_pb2.ConnectRequest(hello=dispatcher_pb2.Hello(**hello))  # type: ignore[arg-type]


def test_a_good_hello_becomes_the_domain_hello() -> None:
    hello, problem = _hello_of(request(worker_id="w1", region="eu", skills=["vision", "en"]))

    assert problem == ""
    assert hello is not None
    assert (hello.worker_id, hello.region, hello.skills, hello.time_zone) == (
        "w1",
        "eu",
        frozenset({"vision", "en"}),
        "UTC",
    )


@pytest.mark.parametrize(
    ("message", "mentions"),
    [
        (dispatcher_pb2.ConnectRequest(), "hello"),
        (request(worker_id="", region="eu"), "worker_id"),
        (request(worker_id="w" * 129, region="eu"), "worker_id"),
        (request(worker_id="w1", region=" "), "region"),
    ],
)
def test_a_bad_hello_is_refused_with_the_reason(
    message: dispatcher_pb2.ConnectRequest, mentions: str
) -> None:
    hello, problem = _hello_of(message)

    assert hello is None
    assert mentions in problem
