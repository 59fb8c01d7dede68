"""Posting construction and the pay-floor arithmetic, all in integers."""

from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payroll.domain.commands import PayForTask, PayForTimeWorked
from payroll.domain.errors import InvalidPostingError, UnbalancedPostingError
from payroll.domain.model import (
    MAX_MICROS,
    AccountKind,
    EntryKind,
    Line,
    platform_escrow,
    worker_payable,
)
from payroll.domain.pay import (
    MAX_ID_LENGTH,
    floor_pay_micros,
    is_below_floor,
    task_pay_posting,
    time_worked_posting,
)

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
FLOOR = 12_000_000
UINT32 = st.integers(min_value=0, max_value=2**32 - 1)


def scored(**changes: object) -> PayForTask:
    fields: dict[str, object] = {
        "submission_id": "sub-1",
        "task_id": "task-1",
        "worker_id": "w-1",
        "region": "ke",
        "platform_id": "lab-a",
        "task_type": "image-bbox",
        "price_micros": 400_000,
        "worked_seconds": 90,
        "source_event_id": "evt-1",
    }
    fields.update(changes)
    return PayForTask(**fields)  # type: ignore[arg-type]


def released(**changes: object) -> PayForTimeWorked:
    fields: dict[str, object] = {
        "lease_id": "lease-1",
        "task_id": "task-1",
        "worker_id": "w-1",
        "region": "ph",
        "platform_id": "lab-a",
        "task_type": "image-bbox",
        "worked_seconds": 600,
        "source_event_id": "evt-2",
    }
    fields.update(changes)
    return PayForTimeWorked(**fields)  # type: ignore[arg-type]


def test_task_pay_moves_the_price_from_platform_escrow_to_the_worker() -> None:
    posting = task_pay_posting(scored(), entry_id="e-1", now=NOW)

    assert posting.kind is EntryKind.TASK_PAY
    assert posting.source_key == "task_pay:sub-1"
    assert posting.amount_micros == 400_000
    assert posting.paid_seconds == 90
    assert posting.source_event_id == "evt-1"
    assert posting.lines == (
        Line(platform_escrow("lab-a"), AccountKind.PLATFORM_ESCROW, 400_000),
        Line(worker_payable("w-1"), AccountKind.WORKER_PAYABLE, -400_000),
    )


@given(price=st.integers(min_value=1, max_value=MAX_MICROS), seconds=UINT32)
def test_every_task_pay_posting_balances(price: int, seconds: int) -> None:
    posting = task_pay_posting(scored(price_micros=price, worked_seconds=seconds), "e", NOW)

    assert sum(line.amount_micros for line in posting.lines) == 0
    assert sorted(line.amount_micros for line in posting.lines) == [-price, price]


@pytest.mark.parametrize("price", [0, -1, -(2**63)])
def test_a_price_that_is_not_positive_cannot_be_posted(price: int) -> None:
    with pytest.raises(InvalidPostingError) as caught:
        task_pay_posting(scored(price_micros=price), "e", NOW)
    assert caught.value.field == "price_micros"


@pytest.mark.parametrize(
    "field", ["submission_id", "task_id", "worker_id", "platform_id", "region"]
)
@pytest.mark.parametrize("value", ["", "   ", "x" * (MAX_ID_LENGTH + 1), "w\x00"])
def test_task_pay_needs_every_id(field: str, value: str) -> None:
    with pytest.raises(InvalidPostingError) as caught:
        task_pay_posting(scored(**{field: value}), "e", NOW)
    assert caught.value.field == field


@pytest.mark.parametrize("field", ["task_type", "source_event_id"])
def test_text_that_postgresql_cannot_store_is_refused(field: str) -> None:
    with pytest.raises(InvalidPostingError) as caught:
        task_pay_posting(scored(**{field: "a\x00b"}), "e", NOW)
    assert caught.value.field == field


@pytest.mark.parametrize("field", ["lease_id", "task_id", "worker_id", "platform_id", "region"])
def test_time_worked_needs_every_id(field: str) -> None:
    with pytest.raises(InvalidPostingError) as caught:
        time_worked_posting(released(**{field: ""}), FLOOR, "e", NOW)
    assert caught.value.field == field


def test_time_worked_pays_the_floor_for_the_time() -> None:
    posting = time_worked_posting(released(worked_seconds=600), FLOOR, "e-2", NOW)

    assert posting is not None
    assert posting.kind is EntryKind.TIME_WORKED
    assert posting.source_key == "time_worked:lease-1"
    assert posting.amount_micros == 2_000_000  # ten minutes at $12/h
    assert posting.paid_seconds == 600
    assert sum(line.amount_micros for line in posting.lines) == 0


def test_no_time_worked_means_nothing_to_post() -> None:
    assert time_worked_posting(released(worked_seconds=0), FLOOR, "e", NOW) is None


def test_floor_pay_beyond_int64_cannot_be_posted() -> None:
    with pytest.raises(InvalidPostingError):
        time_worked_posting(released(worked_seconds=2**32 - 1), 2**62, "e", NOW)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, 0), (1, 3_334), (90, 300_000), (3_600, 12_000_000), (2**32 - 1, 14_316_557_650_000)],
)
def test_floor_pay_examples(seconds: int, expected: int) -> None:
    assert floor_pay_micros(seconds, FLOOR) == expected


@given(seconds=UINT32, floor=st.integers(min_value=1, max_value=10**9))
def test_floor_pay_is_the_exact_amount_rounded_up(seconds: int, floor: int) -> None:
    # Rounding down would pay a fraction of a micro-dollar below the floor.
    pay = floor_pay_micros(seconds, floor)

    exact = Fraction(seconds * floor, 3600)
    assert pay - 1 < exact <= pay
    assert floor_pay_micros(seconds + 1, floor) >= pay


@given(
    price=st.integers(min_value=1, max_value=10**12),
    seconds=UINT32,
    floor=st.integers(min_value=1, max_value=10**9),
)
def test_below_floor_compares_the_exact_hourly_rate(price: int, seconds: int, floor: int) -> None:
    expected = seconds > 0 and Fraction(price * 3600, seconds) < floor
    assert is_below_floor(price, seconds, floor) is expected


def test_below_floor_examples() -> None:
    assert not is_below_floor(400_000, 90, FLOOR)  # $16/h
    assert not is_below_floor(300_000, 90, FLOOR)  # exactly $12/h
    assert is_below_floor(299_999, 90, FLOOR)
    assert not is_below_floor(1, 0, FLOOR)


def test_a_posting_whose_lines_do_not_sum_to_zero_cannot_exist() -> None:
    posting = task_pay_posting(scored(), "e", NOW)
    debit, credit = posting.lines
    short = Line(credit.account_id, credit.account_kind, -1)

    with pytest.raises(UnbalancedPostingError):
        replace(posting, lines=(debit, short))
    with pytest.raises(UnbalancedPostingError):
        replace(posting, lines=())
