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
