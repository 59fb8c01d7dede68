"""Who is away and since when, oldest first: what to forget once they have been away long
enough, so a process that runs for weeks does not keep everyone it ever saw."""

from collections import OrderedDict
from collections.abc import Callable


class Absences:
    """One entry per absent key: leaving again moves it to the end, so how often someone
    comes and goes does not grow what waits to be forgotten."""

    def __init__(self, forget_after_s: float) -> None:
        if forget_after_s <= 0:
            raise ValueError("forget_after_s must be positive")
        self._after_s = forget_after_s
        self._since: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._since)

    def left(self, key: str, now: float) -> None:
        self._since[key] = now
        self._since.move_to_end(key)

    def returned(self, key: str) -> None:
        self._since.pop(key, None)

    def overdue(self, now: float, still_needed: Callable[[str], bool]) -> list[str]:
        """Those away for the time set, oldest first, to forget now. One `still_needed` says
        to keep is looked at again a whole period later."""
        since, cutoff = self._since, now - self._after_s
        forget: list[str] = []
        while since:
            key, at = next(iter(since.items()))
            if at > cutoff:
                break
            del since[key]
            if still_needed(key):
                since[key] = now
            else:
                forget.append(key)
        return forget
