"""Positions in a platform's result log.

A cursor is `<milliseconds>-<sequence>`, the shape of a Redis stream entry id, so the log can
be a stream and the cursor its entry id. Clients treat it as opaque; it is checked here so a
malformed one is refused with a clear message instead of a storage error.
"""

import re

from scoring.domain.errors import InvalidCursorError

# [0-9], not \d: \d also matches non-ASCII digits, which Redis refuses.
_SHAPE = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_MAX_PART = 2**64 - 1

START = "0-0"


def parse_cursor(cursor: str) -> tuple[int, int]:
    """(milliseconds, sequence); raises InvalidCursorError for anything scoring did not issue."""
    match = _SHAPE.fullmatch(cursor)
    if match is None:
        raise InvalidCursorError("is not a cursor returned by WatchResults")
    ms, seq = int(match[1]), int(match[2])
    if ms > _MAX_PART or seq > _MAX_PART:
        raise InvalidCursorError("is out of range")
    return ms, seq


def format_cursor(ms: int, seq: int) -> str:
    return f"{ms}-{seq}"
