"""The follower and the relay share the log entries read last: served in order, without gaps,
and only what was read right after what is kept."""

from dispatcher.adapters.recent_entries import Entry, RecentEntries


def entries(*numbers: int, size: int = 0) -> list[Entry]:
    return [(f"{n}-0".encode(), {b"kind": b"x", b"t": b"t" * size}) for n in numbers]


def test_a_reader_behind_gets_what_the_other_read_in_order_and_in_batches() -> None:
    recent = RecentEntries()
    recent.add("0-0", entries(1, 2, 3))
    recent.add("3-0", entries(4))

    assert recent.after("0-0", 2) == entries(1, 2)
    assert recent.after("2-0", 10) == entries(3, 4)
    assert recent.after("4-0", 10) is None  # nothing newer kept: read Redis
    assert recent.after("9-0", 10) is None  # unknown


def test_a_batch_with_a_gap_before_it_is_not_kept() -> None:
    recent = RecentEntries()
    recent.add("0-0", entries(1, 2))
    recent.add("5-0", entries(6))  # read by a reader elsewhere in the log

    assert recent.after("2-0", 10) is None
    assert recent.after("5-0", 10) is None
    assert recent.after("1-0", 10) == entries(2)


def test_the_oldest_go_first_past_the_count_or_the_bytes() -> None:
    recent = RecentEntries(max_entries=3, max_bytes=3 * 256 + 1_000)
    recent.add("0-0", entries(1, 2, 3, 4))
    assert recent.after("0-0", 10) is None
    assert recent.after("1-0", 10) == entries(2, 3, 4)

    recent.add("4-0", entries(5, size=1_001))  # 2 goes for the count, 3 for the bytes
    assert recent.after("2-0", 10) is None
    assert recent.after("3-0", 10) == [*entries(4), *entries(5, size=1_001)]


def test_entries_trimmed_from_the_log_are_forgotten() -> None:
    recent = RecentEntries()
    recent.add("0-0", entries(1, 2, 3))

    recent.forget_up_to("2-0")

    assert recent.after("0-0", 10) is None
    assert recent.after("2-0", 10) == entries(3)
    recent.forget_up_to("9-0")
    assert recent.after("2-0", 10) is None


def test_a_trim_between_kept_entries_forgets_those_before_it() -> None:
    recent = RecentEntries()
    recent.add("0-0", entries(1, 2, 3))

    recent.forget_up_to("2-5")  # trimmed up to an entry this process never read

    assert recent.after("2-0", 10) == entries(3)
    assert recent.after("1-0", 10) is None
