"""A log entry's times read back exactly, however entries with equal and different times
follow one another (the reader remembers the last time it converted)."""

from hypothesis import given
from hypothesis import strategies as st

from dispatcher.adapters.redis_log import _moment
from dispatcher.adapters.values import from_ms

millis = st.integers(min_value=0, max_value=4_102_444_800_000)  # up to 2100


@given(st.lists(millis, max_size=30).flatmap(lambda ms: st.permutations(ms + ms)))
def test_every_time_reads_back_as_written(written: list[int]) -> None:
    assert [_moment(str(ms).encode()) for ms in written] == [from_ms(ms) for ms in written]
