"""Rate limits: up to the limit each caller goes ahead; past it, it is told how long to wait,
and other callers are not affected."""

import pytest

from fairtask_runtime.rate_limits import RateLimit, parse_limit


def test_a_caller_past_its_limit_is_told_to_wait_and_others_go_ahead() -> None:
    limit = RateLimit("5/second")

    admitted = [limit.retry_after("flooder") for _ in range(5)]
    refused = limit.retry_after("flooder")

    assert admitted == [None] * 5
    assert refused is not None
    assert 0 < refused <= 1.0
    assert limit.retry_after("someone-else") is None
    assert limit.description == "5 per 1 second"


@pytest.mark.parametrize("text", ["", "fast", "5/fortnight", "-1/second"])
def test_an_unreadable_limit_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"parse rate limit|granularity"):
        parse_limit(text)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_window_moves_with_each_call() -> None:
    clock = _Clock()
    limit = RateLimit("2/second", clock)
    assert limit.retry_after("w") is None
    clock.now += 0.6
    assert limit.retry_after("w") is None

    clock.now += 0.3  # both calls are inside the last second
    assert limit.retry_after("w") == pytest.approx(0.1)
    clock.now += 0.11  # the first has left it
    assert limit.retry_after("w") is None
    assert limit.retry_after("w") == pytest.approx(0.59)


def test_callers_idle_for_a_window_are_forgotten() -> None:
    clock = _Clock()
    limit = RateLimit("5/second", clock)
    limit.retry_after("gone")
    clock.now += 1.5
    limit.retry_after("here")

    assert list(limit._calls) == ["here"]
