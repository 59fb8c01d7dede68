"""The ids of the latest so many of an endless stream (finished tasks, refused offers): what a
process that runs for weeks may remember of it without growing with it."""

from collections import OrderedDict


class RecentIds:
    def __init__(self, kept: int) -> None:
        # Oldest first. Not a plain dict: evicting its first key walks the deleted slots left
        # in front until it is resized (17 us at 100,000); popitem(last=False) does not.
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._kept = kept

    def __contains__(self, item: str) -> bool:
        return item in self._ids

    def add(self, item: str) -> None:
        ids = self._ids
        ids[item] = None
        if len(ids) > self._kept:
            ids.popitem(last=False)

    def clear(self) -> None:
        self._ids.clear()
