"""Hypothesis strategies for any protobuf message, read from its descriptor.

Values are chosen to hurt: integers at their type's limits, enums outside their declared values
(proto3 keeps unknown ones), strings with NULs, controls, surrogate-free astral characters and
sizes past what a field allows, nested messages a few levels deep, repeated and map fields, and
oneofs with at most one case set. Nothing here knows fairtask's types.
"""

from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

# protobuf's stubs type descriptors as the pure-Python or the upb class, depending on where
# they come from; both have the same interface.
Descriptor = Any
_T = FieldDescriptor
_INT_RANGES: dict[int, tuple[int, int]] = {
    _T.TYPE_INT32: (-(2**31), 2**31 - 1),
    _T.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _T.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    _T.TYPE_INT64: (-(2**63), 2**63 - 1),
    _T.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _T.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _T.TYPE_UINT32: (0, 2**32 - 1),
    _T.TYPE_FIXED32: (0, 2**32 - 1),
    _T.TYPE_UINT64: (0, 2**64 - 1),
    _T.TYPE_FIXED64: (0, 2**64 - 1),
}

# Short and long, printable and not: what a careless or hostile client sends.
_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "\x00", "a\x00b", "../../etc/passwd", "' OR 1=1 --", "\u202e"]),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=2_000),
    st.integers(1, 70_000).map(lambda n: "x" * n),
)
_BYTES = st.one_of(st.binary(max_size=64), st.integers(1, 300_000).map(lambda n: b"\xff" * n))


def messages(
    descriptor: Descriptor, max_depth: int = 3, max_repeated: int = 4
) -> st.SearchStrategy[Message]:
    """Any message of `descriptor`'s type, fields set or left unset at random."""
    cls = GetMessageClass(descriptor)
    return _message(descriptor, cls, max_depth, max_repeated)


def _message(
    descriptor: Descriptor, cls: Callable[[], Message], depth: int, max_repeated: int
) -> st.SearchStrategy[Message]:
    plain = [f for f in descriptor.fields if f.containing_oneof is None]
    fields = {f.name: st.none() | _field(f, depth, max_repeated) for f in plain}
    oneofs = {
        o.name: st.none() | st.one_of([_case(f, depth, max_repeated) for f in o.fields])
        for o in descriptor.oneofs
    }

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        message = cls()
        for field in plain:
            value = draw(fields[field.name])
            if value is not None:
                _set(message, field, value)
        for oneof in descriptor.oneofs:
            chosen = draw(oneofs[oneof.name])
            if chosen is not None:
                _set(message, chosen[0], chosen[1])
        return message

    return build()


def _case(
    field: FieldDescriptor, depth: int, max_repeated: int
) -> st.SearchStrategy[tuple[FieldDescriptor, Any]]:
    return _field(field, depth, max_repeated).map(lambda value: (field, value))


def _field(field: FieldDescriptor, depth: int, max_repeated: int) -> st.SearchStrategy[Any]:
    if _is_map(field):
        entry = field.message_type
        assert entry is not None
        key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
        return st.dictionaries(
            _single(key, depth, max_repeated),
            _single(value, depth, max_repeated),
            max_size=max_repeated,
        )
    single = _single(field, depth, max_repeated)
    if field.is_repeated:
        return st.lists(single, max_size=max_repeated)
    return single


def _single(field: FieldDescriptor, depth: int, max_repeated: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        return st.one_of(
            st.sampled_from([low, high, 0, -1 if low < 0 else 1]), st.integers(low, high)
        )
    if kind == _T.TYPE_BOOL:
        return st.booleans()
    if kind in (_T.TYPE_DOUBLE, _T.TYPE_FLOAT):
        return st.floats(width=32 if kind == _T.TYPE_FLOAT else 64)
    if kind == _T.TYPE_STRING:
        return _TEXT
    if kind == _T.TYPE_BYTES:
        return _BYTES
    if kind == _T.TYPE_ENUM:
        assert field.enum_type is not None
        declared = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(declared), st.integers(-(2**31), 2**31 - 1))
    if depth <= 0:
        return st.none()
    sub = field.message_type
    assert sub is not None, f"{field.full_name} has no message type"
    return _message(sub, GetMessageClass(sub), depth - 1, max_repeated)


def _is_map(field: FieldDescriptor) -> bool:
    entry = field.message_type
    return field.is_repeated and entry is not None and entry.GetOptions().map_entry


def _set(message: Message, field: FieldDescriptor, value: Any) -> None:
    if value is None:
        return
    if _is_map(field):
        target = getattr(message, field.name)
        for key, item in value.items():
            entry = field.message_type
            assert entry is not None
            if entry.fields_by_name["value"].message_type is not None:
                if item is not None:
                    target[key].CopyFrom(item)
            else:
                target[key] = item
    elif field.is_repeated:
        target = getattr(message, field.name)
        if field.message_type is not None:
            for item in value:
                if item is not None:
                    target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif field.message_type is not None:
        getattr(message, field.name).CopyFrom(value)
    else:
        setattr(message, field.name, value)
