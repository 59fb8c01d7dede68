"""Decoding a record's value never fails but as a poison message, whatever the bytes."""

from hypothesis import given, settings

from fairtask_fuzzing import tally
from fairtask_fuzzing.events import raw_records
from fairtask_runtime.envelope import PoisonMessageError, decode, payload_of


@settings(max_examples=500, deadline=None)
@given(raw=raw_records())
def test_any_record_decodes_or_is_poison(raw: bytes) -> None:
    tally.tried("runtime.envelope.decode")
    try:
        envelope = decode(raw)
    except PoisonMessageError:
        return
    assert envelope.event_id
    assert payload_of(envelope).DESCRIPTOR.full_name == envelope.type
