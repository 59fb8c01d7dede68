"""The floor rule every service applies: the least price that pays the floor for the time."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairtask_runtime.pay_floor import DEFAULT_FLOOR_MICROS_PER_HOUR, minimum_price_micros


@pytest.mark.parametrize(
    ("effort_seconds", "expected"),
    [(0, 0), (1, 3334), (3, 10_000), (90, 300_000), (600, 2_000_000), (3600, 12_000_000)],
)
def test_minimum_price_examples_at_twelve_dollars(effort_seconds: int, expected: int) -> None:
    assert minimum_price_micros(effort_seconds, DEFAULT_FLOOR_MICROS_PER_HOUR) == expected


@given(st.integers(0, 10**6), st.integers(1, 10**9))
def test_the_minimum_pays_the_floor_and_a_micro_less_does_not(effort: int, floor: int) -> None:
    minimum = minimum_price_micros(effort, floor)
    assert minimum * 3600 >= floor * effort
    assert (minimum - 1) * 3600 < floor * effort or minimum == 0


def test_negative_effort_is_refused() -> None:
    with pytest.raises(ValueError, match="never negative"):
        minimum_price_micros(-1, DEFAULT_FLOOR_MICROS_PER_HOUR)
