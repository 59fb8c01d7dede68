"""Cursors: what WatchResults accepts back from clients."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.domain.cursor import format_cursor, parse_cursor
from scoring.domain.errors import InvalidCursorError

_PART = st.integers(min_value=0, max_value=2**64 - 1)


@given(ms=_PART, seq=_PART)
def test_a_formatted_cursor_parses_back(ms: int, seq: int) -> None:
    assert parse_cursor(format_cursor(ms, seq)) == (ms, seq)


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        "12",
        "12-",
        "-3",
        "1-2-3",
        " 1-2",
        "1-2\n",
        "+1-2",
        "\u0661-2",  # ARABIC-INDIC DIGIT ONE: a digit to Python, not to Redis
        f"{2**64}-0",
        "1" * 21 + "-0",
        "$",
        ">",
    ],
)
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        parse_cursor(cursor)
