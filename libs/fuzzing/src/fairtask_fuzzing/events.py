"""Kafka messages as a consumer may receive them: mostly well-formed envelopes around any event
payload (a payload the topic never carries included, its fields fuzzed), sometimes envelopes
whose type and payload disagree or lack an event id, and raw bytes."""

from google.protobuf.message import Message
from hypothesis import strategies as st

from fairtask.v1 import envelope_pb2
from fairtask_fuzzing.messages import Descriptor, messages

_ENVELOPE = envelope_pb2.Envelope.DESCRIPTOR
PAYLOADS: list[tuple[str, Descriptor]] = [
    (f.name, f.message_type)
    for f in _ENVELOPE.oneofs_by_name["payload"].fields
    if f.message_type is not None
]


@st.composite
def _wrapped(draw: st.DrawFn) -> envelope_pb2.Envelope:
    name, descriptor = draw(st.sampled_from(PAYLOADS))
    payload: Message = draw(messages(descriptor))
    envelope = envelope_pb2.Envelope(
        event_id=draw(st.uuids().map(str) | st.sampled_from(["", "x", "\x00"])),
        producer=draw(st.sampled_from(["dispatcher", "scoring", "payroll", ""])),
        type=draw(
            st.sampled_from([descriptor.full_name, "", "fairtask.v1.Nope"])
            | st.sampled_from([d.full_name for _, d in PAYLOADS])
        ),
    )
    getattr(envelope, name).CopyFrom(payload)
    return envelope


def envelopes() -> st.SearchStrategy[envelope_pb2.Envelope]:
    return _wrapped() | messages(_ENVELOPE).map(_as_envelope)


def _as_envelope(message: Message) -> envelope_pb2.Envelope:
    assert isinstance(message, envelope_pb2.Envelope)
    return message


def raw_records() -> st.SearchStrategy[bytes]:
    """The bytes of a record's value: an envelope, or anything at all."""
    return envelopes().map(lambda e: e.SerializeToString()) | st.binary(max_size=256)
