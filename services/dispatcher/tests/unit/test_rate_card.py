"""One price per task type, worldwide: nothing on the pricing path can tell regions apart."""

import dataclasses
import inspect

from google.protobuf.descriptor import Descriptor

from dispatcher.domain.model import TaskType
from fairtask.v1 import dispatcher_pb2
from fairtask_runtime.pay_floor import minimum_price_micros

# Anything that could let a price depend on where the worker lives.
_WHERE = ("region", "country", "locale", "zone", "location", "currency")


def _field_names(message: Descriptor) -> set[str]:
    names = set()
    for field in message.fields:
        names.add(field.name)
        if field.message_type is not None and field.message_type.full_name.startswith("fairtask"):
            names |= _field_names(field.message_type)
    return names


def _where(names: set[str]) -> set[str]:
    return {n for n in names if any(w in n.lower() for w in _WHERE)}


def test_the_rate_card_messages_have_no_region_field() -> None:
    for message in (dispatcher_pb2.DefineTaskTypeRequest, dispatcher_pb2.DefineTaskTypeResponse):
        names = _field_names(message.DESCRIPTOR)
        assert "price_micros" in names
        assert _where(names) == set()


def test_the_stored_rate_card_has_no_region_field() -> None:
    names = {f.name for f in dataclasses.fields(TaskType)}
    assert "price_micros" in names
    assert _where(names) == set()


def test_the_floor_rule_depends_on_effort_and_floor_only() -> None:
    assert set(inspect.signature(minimum_price_micros).parameters) == {
        "effort_seconds",
        "floor_micros_per_hour",
    }
