"""Local windows, their boundaries and the night, worked out by hand."""

from hypothesis import example, given
from hypothesis import strategies as st

from dispatcher.domain.scheduling.policy import DAY_S, Window
from fairtask_sim.timeofday import (
    inside,
    local_day,
    merge_spans,
    next_boundary,
    night_overlap_s,
    window_spans,
)

H = 3600
MORNING = (Window(8 * 60, 12 * 60),)
NIGHT_SHIFT = (Window(22 * 60, 6 * 60),)


def test_inside_in_local_time() -> None:
    # UTC+2: 08:00 local is 06:00 UTC.
    assert not inside(MORNING, 5.99 * H, 7200)
    assert inside(MORNING, 6 * H, 7200)
    assert not inside(MORNING, 10 * H, 7200)
    assert inside(NIGHT_SHIFT, 23 * H, 0)
    assert inside(NIGHT_SHIFT, 3 * H, 0)
    assert not inside(NIGHT_SHIFT, 12 * H, 0)


def test_next_boundary_is_strictly_later_and_whole() -> None:
    assert next_boundary(MORNING, 0.0, 7200) == 6 * H
    assert next_boundary(MORNING, 6 * H, 7200) == 10 * H
    assert next_boundary(MORNING, 10 * H, 7200) == DAY_S + 6 * H
    assert next_boundary(MORNING, 6 * H + 0.5, -18_000) == 13 * H


@given(st.floats(min_value=0, max_value=30 * DAY_S), st.integers(-12 * 60, 14 * 60))
@example(1295999.9999999995, -180)  # float noise just short of 21:00 local
def test_inside_is_constant_until_the_next_boundary(now: float, offset_min: int) -> None:
    offset = offset_min * 60
    windows = (Window(8 * 60, 12 * 60), Window(21 * 60, 1 * 60))
    boundary = next_boundary(windows, now, offset)
    assert now < boundary <= now + DAY_S
    assert inside(windows, now, offset) == inside(windows, (now + boundary) / 2, offset)


def test_night_overlap() -> None:
    assert night_overlap_s(9 * H, 10 * H, 0) == 0
    assert night_overlap_s(21 * H, 23 * H, 0) == H
    assert night_overlap_s(6 * H, 8 * H, 0) == H
    # 23:00-01:00 local at UTC-5 is 04:00-06:00 UTC.
    assert night_overlap_s(4 * H, 6 * H, -5 * H) == 2 * H
    assert night_overlap_s(0, 2 * DAY_S, 0) == 18 * H


def test_window_spans_and_local_day() -> None:
    assert window_spans(MORNING, 7200, 2 * DAY_S) == [
        (6 * H, 10 * H),
        (DAY_S + 6 * H, DAY_S + 10 * H),
    ]
    # A window wrapping midnight open at t=0 starts at 0.
    assert window_spans(NIGHT_SHIFT, 0, DAY_S)[0] == (0, 6 * H)
    assert local_day(23 * H, 2 * H) == 1
    assert local_day(1 * H, -2 * H) == -1


def test_merge_spans() -> None:
    spans = [(5.0, 7.0), (1.0, 3.0), (2.0, 4.0), (-1.0, 0.5), (9.0, 12.0)]
    assert merge_spans(spans, 0.0, 10.0) == [(0.0, 0.5), (1.0, 4.0), (5.0, 7.0), (9.0, 10.0)]
