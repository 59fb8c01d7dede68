"""Local time of day: availability windows and night hours, as workers see them."""

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60


def parse_window(text: str) -> tuple[int, int]:
    """ "HH:MM-HH:MM" as minutes after local midnight; "24:00" may end a window.

    Raises ValueError on anything else. A window whose end is not after its start wraps past
    midnight ("22:00-07:00").
    """
    start_text, sep, end_text = text.strip().partition("-")
    if not sep:
        raise ValueError(f"window {text!r} is not HH:MM-HH:MM")
    return _minutes(start_text, allow_24=False), _minutes(end_text, allow_24=True)


def _minutes(text: str, *, allow_24: bool) -> int:
    hours_text, sep, minutes_text = text.strip().partition(":")
    if not sep or not hours_text.isdigit() or not minutes_text.isdigit():
        raise ValueError(f"time {text!r} is not HH:MM")
    hours, minutes = int(hours_text), int(minutes_text)
    if allow_24 and (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"time {text!r} is out of range")
    return hours * 60 + minutes


def inside(window: tuple[int, int], minute_of_day: int) -> bool:
    start, end = window
    if start < end:
        return start <= minute_of_day < end
    return minute_of_day >= start or minute_of_day < end


def inside_any(windows: tuple[tuple[int, int], ...], minute_of_day: int) -> bool:
    return any(inside(w, minute_of_day) for w in windows)


def zone(time_zone: str, utc_offset_hours: float) -> tzinfo:
    """The IANA zone, or a fixed offset when this machine has no tz database."""
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=utc_offset_hours))


def local_minute(at: datetime, tz: tzinfo) -> int:
    local = at.astimezone(tz)
    return local.hour * 60 + local.minute


def now_utc() -> datetime:
    return datetime.now(UTC)
