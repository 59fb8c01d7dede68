"""Workers' availability windows as they type them ("HH:MM-HH:MM", local time)."""

import re

from dispatcher.domain.errors import Violation
from dispatcher.domain.scheduling.policy import Window

_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
MAX_WINDOWS = 12


def parse_windows(texts: tuple[str, ...], field: str) -> tuple[tuple[Window, ...], list[Violation]]:
    """Windows and the problems found; "24:00" closes a day, and a window may wrap midnight."""
    windows: list[Window] = []
    problems: list[Violation] = []
    if len(texts) > MAX_WINDOWS:
        return (), [Violation(field, f"at most {MAX_WINDOWS} windows")]
    for i, text in enumerate(texts):
        match = _WINDOW.match(text.strip())
        if match is None:
            problems.append(Violation(f"{field}[{i}]", f"{text!r} is not HH:MM-HH:MM"))
            continue
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or start == end:
            problems.append(Violation(f"{field}[{i}]", f"{text!r} is not a window of the day"))
            continue
        windows.append(Window(start, end))
    return tuple(windows), problems
