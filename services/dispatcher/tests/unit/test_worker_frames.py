"""The JSON frames of the WebSocket and SSE transports: what is understood, what is refused,
and what reaches a worker's screen (never the gold answer)."""

import base64
from datetime import timedelta

import orjson
import pytest
from dispatcher_world import START, make_task
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.domain.model import Lease, Offer
from dispatcher.entrypoints.worker_frames import (
    SHUTTING_DOWN,
    AcceptRequest,
    DeclineRequest,
    FrameError,
    HeartbeatRequest,
    HelloRequest,
    SubmitRequest,
    parse_frame,
    parse_registration,
    push_frame,
)
from dispatcher.service_layer.auth import HelloOverrides, RegisterWorker
from dispatcher.service_layer.sessions import (
    Closed,
    ErrorPush,
    LeasePush,
    OfferPush,
    OfferWithdrawnPush,
    SubmitAcceptedPush,
    Welcome,
)

LIMIT = 384 * 1024
GOLD = "GOLD-ANSWER-7f3a9c"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"accept": {"offer_id": "o1"}}', AcceptRequest("o1")),
        (b'{"decline": {"offer_id": "o1"}}', DeclineRequest("o1")),
        ('{"heartbeat": {"lease_id": "l1"}}', HeartbeatRequest("l1", None)),
        ('{"heartbeat": {"lease_id": "l1", "draft": ""}}', HeartbeatRequest("l1", None)),
        (
            f'{{"heartbeat": {{"lease_id": "l1", "draft": "{b64(b"half")}"}}}}',
            HeartbeatRequest("l1", b"half"),
        ),
        (
            f'{{"submit": {{"lease_id": "l1", "answer": "{b64("café".encode())}"}}}}',
            SubmitRequest("l1", "café".encode()),
        ),
        ('{"hello": {}}', HelloRequest("", "", "", HelloOverrides())),
        (
            '{"hello": {"token": "t", "worker_id": "w", "region": "ph", "time_zone": "UTC",'
            ' "skills": ["en"], "availability": ["08:00-12:00"], "sensitive_opt_in": true}}',
            HelloRequest("t", "w", "ph", HelloOverrides("UTC", ("en",), ("08:00-12:00",), True)),
        ),
    ],
)
def test_good_frames_are_understood(frame: str | bytes, expected: object) -> None:
    assert parse_frame(frame, LIMIT) == expected


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("{", "INVALID_ARGUMENT", "frame"),
        ("", "INVALID_ARGUMENT", "frame"),
        ("null", "INVALID_ARGUMENT", "frame"),
        ("{}", "INVALID_ARGUMENT", "frame"),
        (
            '{"accept": {"offer_id": "o"}, "decline": {"offer_id": "o"}}',
            "INVALID_ARGUMENT",
            "frame",
        ),
        ('{"launch": {}}', "INVALID_ARGUMENT", "frame"),
        ('{"accept": []}', "INVALID_ARGUMENT", "accept"),
        ('{"accept": {}}', "INVALID_ARGUMENT", "accept.offer_id"),
        ('{"accept": {"offer_id": ""}}', "INVALID_ARGUMENT", "accept.offer_id"),
        ('{"accept": {"offer_id": "' + "o" * 129 + '"}}', "INVALID_ARGUMENT", "accept.offer_id"),
        ('{"accept": {"offer_id": "o", "x": 1}}', "INVALID_ARGUMENT", "accept.x"),
        ('{"submit": {"lease_id": "l"}}', "INVALID_ARGUMENT", "submit.answer"),
        ('{"submit": {"lease_id": "l", "answer": "abc"}}', "INVALID_ARGUMENT", "submit.answer"),
        ('{"heartbeat": {"lease_id": "l", "draft": 5}}', "INVALID_ARGUMENT", "heartbeat.draft"),
        ('{"hello": {"skills": "en"}}', "INVALID_ARGUMENT", "hello.skills"),
        ('{"hello": {"skills": [1]}}', "INVALID_ARGUMENT", "hello.skills"),
        ('{"hello": {"sensitive_opt_in": "yes"}}', "INVALID_ARGUMENT", "hello.sensitive_opt_in"),
        ('{"hello": {"token": 7}}', "INVALID_ARGUMENT", "hello.token"),
        ("[" * 5000 + "]" * 5000, "INVALID_ARGUMENT", "frame"),
        ("x" * (LIMIT + 1), "RESOURCE_EXHAUSTED", "frame"),
        ("é" * (LIMIT // 2 + 1), "RESOURCE_EXHAUSTED", "frame"),  # counted in UTF-8 bytes
    ],
)
def test_bad_frames_are_refused_naming_the_field(frame: str, code: str, field: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(frame, LIMIT)

    assert (caught.value.code, caught.value.field) == (code, field)


def outcome(raw: str | bytes, limit: int = LIMIT) -> object:
    try:
        return parse_frame(raw, limit)
    except FrameError as error:
        return error


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_no_input_makes_the_parser_fail_other_than_with_a_frame_error(raw: str | bytes) -> None:
    result = outcome(raw, 100)

    assert not isinstance(result, FrameError) or result.field == "frame"


_VALUES = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
_MESSAGES = st.dictionaries(
    st.sampled_from(["hello", "accept", "decline", "heartbeat", "submit", "other"]),
    st.dictionaries(
        st.sampled_from(["token", "offer_id", "lease_id", "draft", "answer", "skills", "x"]),
        _VALUES | st.lists(_VALUES, max_size=3),
    ),
    min_size=1,
    max_size=2,
)


@given(_MESSAGES)
def test_any_json_object_is_understood_or_refused_cleanly(message: dict[str, object]) -> None:
    result = outcome(orjson.dumps(message))

    refused_at = result.field if isinstance(result, FrameError) else None
    assert refused_at != ""  # a refusal always says where


def test_a_registration_body_is_read_with_defaults() -> None:
    assert parse_registration({"region": "ph"}) == RegisterWorker(region="ph")
    with pytest.raises(FrameError) as caught:
        parse_registration({"region": "ph", "password": "x"})
    assert caught.value.field == "password"


def test_pushes_become_frames_with_base64_bytes_and_without_the_gold_answer() -> None:
    task = make_task("c1", gold=GOLD)
    offer = Offer("o1", task, "w1", START + timedelta(minutes=2))
    lease = Lease("l1", task, "w1", "eu", "o1", START, START, b"my draft")

    offered = push_frame(OfferPush(offer, START), START + timedelta(seconds=30))
    leased = push_frame(LeasePush(lease, 10), START)
    welcomed = push_frame(Welcome("w1", lease), START)

    for frame in (offered, leased, welcomed):
        assert GOLD not in orjson.dumps(frame).decode()
    assert offered["offer"] == {
        "offer_id": "o1",
        "task_id": task.task_id,
        "task_type": "bbox",
        "purpose": task.task_type.purpose,
        "price_micros": 400_000,
        "effort_seconds": 90,
        "payload": b64(task.payload),
        "expires_at": "2026-03-01T12:02:00.000Z",
        "expires_in_ms": 90_000,
        "offered_at": "2026-03-01T12:00:00.000000Z",
    }
    assert base64.b64decode(leased["lease"]["draft"]) == b"my draft"
    assert leased["lease"]["heartbeat_interval_seconds"] == 10
    assert leased["lease"]["price_micros"] == 400_000
    assert welcomed["welcome"]["resumed_lease"]["lease_id"] == "l1"
    assert push_frame(Welcome("w1", None), START) == {"welcome": {"worker_id": "w1"}}


def test_other_pushes_and_why_a_connection_closes() -> None:
    assert push_frame(OfferWithdrawnPush("o1", "expired"), START) == {
        "offer_withdrawn": {"offer_id": "o1", "reason": "expired"}
    }
    assert push_frame(SubmitAcceptedPush("l1", "s1"), START) == {
        "submit_accepted": {"lease_id": "l1", "submission_id": "s1"}
    }
    assert push_frame(ErrorPush("NOT_FOUND", "no", "accept"), START) == {
        "error": {"code": "NOT_FOUND", "message": "no", "field": "accept"}
    }
    restarting = push_frame(Closed(SHUTTING_DOWN), START)["error"]
    replaced = push_frame(Closed("connected again from elsewhere"), START)["error"]
    # Ended by a replica that took this one for dead: come back, as after a restart.
    ended = push_frame(Closed("connect again: your connection was ended"), START)["error"]
    assert (restarting["code"], replaced["code"], ended["code"]) == (
        "UNAVAILABLE",
        "ABORTED",
        "UNAVAILABLE",
    )
    assert restarting["field"] == replaced["field"] == ended["field"] == "connection"
