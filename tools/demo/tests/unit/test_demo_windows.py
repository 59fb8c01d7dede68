from datetime import UTC, datetime, timedelta, timezone

import pytest

from fairtask_demo.windows import inside, inside_any, local_minute, parse_window, zone


def test_a_window_is_minutes_after_local_midnight() -> None:
    assert parse_window("08:00-12:30") == (480, 750)
    assert parse_window("00:00-24:00") == (0, 1440)


@pytest.mark.parametrize("text", ["8-12", "08:00", "25:00-26:00", "08:60-09:00", "24:00-01:00"])
def test_malformed_windows_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"window|time"):
        parse_window(text)


def test_a_window_ending_before_it_starts_wraps_past_midnight() -> None:
    night = parse_window("22:00-07:00")
    assert inside(night, 23 * 60)
    assert inside(night, 3 * 60)
    assert not inside(night, 7 * 60)
    assert not inside(night, 12 * 60)


def test_the_whole_day_contains_every_minute() -> None:
    whole_day = (parse_window("00:00-24:00"),)
    assert all(inside_any(whole_day, m) for m in range(0, 1440, 7))


def test_local_minute_uses_the_zone_and_falls_back_to_a_fixed_offset() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert local_minute(at, zone("Asia/Manila", 8)) == 20 * 60
    fallback = zone("Nowhere/Unknown", -6)
    assert fallback == timezone(timedelta(hours=-6))
    assert local_minute(at, fallback) == 6 * 60
