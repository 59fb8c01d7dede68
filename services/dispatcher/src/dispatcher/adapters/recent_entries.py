"""The transition log's entries this process read last, so that its follower and its relay,
which read the same entries one just behind the other, go to Redis (and parse the reply) once.

Kept in log order and without gaps: a batch is added only when it was read right after the
last entry kept (Redis returns every entry after a position, in order), and the oldest go
first past a number of entries or of bytes (submissions carry answers).
"""

import itertools
from collections import deque

Entry = tuple[bytes, dict[bytes, bytes]]  # as redis-py returns them: id, fields


class RecentEntries:
    def __init__(self, max_entries: int = 2_000, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: deque[tuple[str, Entry, int]] = deque()  # position, entry, size
        self._numbers: dict[str, int] = {}  # position -> its number, counting every entry kept
        self._first = 0  # the number of the oldest entry kept
        self._before = ""  # the position just before it
        self._bytes = 0

    def after(self, position: str, limit: int) -> list[Entry] | None:
        """Up to `limit` entries following `position`, or None when none are kept (the caller
        reads Redis)."""
        if position == self._before:
            start = 0
        else:
            number = self._numbers.get(position)
            if number is None:
                return None
            start = number - self._first + 1
        if start >= len(self._entries):
            return None
        return [entry for _, entry, _ in itertools.islice(self._entries, start, start + limit)]

    def forget_up_to(self, position: str) -> None:
        """Redis dropped the entries up to `position` (the log is trimmed): so are they here."""
        number = self._numbers.get(position)
        if number is not None:  # one kept: drop it and those before it, without comparing
            for _ in range(number - self._first + 1):
                self._drop_oldest()
            return
        last = _order(position)
        while self._entries and _order(self._entries[0][0]) <= last:
            self._drop_oldest()

    def add(self, after: str, entries: list[Entry]) -> None:
        """Entries Redis returned as following `after`."""
        if not entries:
            return
        if self._entries and after != self._entries[-1][0]:
            return  # not contiguous with what is kept: a reader far behind, served by Redis
        if not self._entries:
            self._before = after
        for entry in entries:
            position = entry[0].decode()
            size = _size(entry[1])
            self._numbers[position] = self._first + len(self._entries)
            self._entries.append((position, entry, size))
            self._bytes += size
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        position, _, size = self._entries.popleft()
        del self._numbers[position]
        self._first += 1
        self._before = position
        self._bytes -= size


def _size(fields: dict[bytes, bytes]) -> int:
    """About what an entry holds: its task's blob and any answer, the rest being ids."""
    return 256 + len(fields.get(b"t", b"")) + len(fields.get(b"answer", b""))


def _order(position: str) -> tuple[int, int]:
    high, _, low = position.partition("-")
    return int(high), int(low or 0)
