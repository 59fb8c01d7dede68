"""A connection whose client stops reading is closed with the reason, not buffered for ever."""

from dispatcher_world import hello

from dispatcher.service_layer.sessions import OVERFLOWED, Closed, ErrorPush, WorkerSession


def test_a_full_outbox_is_replaced_by_the_reason_the_connection_closes() -> None:
    session = WorkerSession(hello("w1"))
    room = session.outbox.maxsize

    for i in range(room + 1):
        session.push(ErrorPush("NOT_FOUND", f"offer {i} is not yours", "offer_id"))

    assert not session.open
    assert session.outbox.qsize() == 1
    assert session.outbox.get_nowait() == Closed(OVERFLOWED)


def test_an_outbox_with_room_keeps_every_message_in_order() -> None:
    session = WorkerSession(hello("w1"))
    sent = [ErrorPush("NOT_FOUND", f"offer {i}", "offer_id") for i in range(session.outbox.maxsize)]

    for push in sent:
        session.push(push)

    assert session.open
    assert [session.outbox.get_nowait() for _ in sent] == sent
