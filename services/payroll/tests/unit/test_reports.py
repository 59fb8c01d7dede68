"""Statements and ledger summaries computed from postings."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from payroll.domain.commands import PayForTask, PayForTimeWorked
from payroll.domain.model import EntryKind, Posting, RegionEarnings
from payroll.domain.pay import task_pay_posting, time_worked_posting
from payroll.domain.reports import statement_of, summarize

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FLOOR = 12_000_000


def pay(n: int, worker: str = "w-1", region: str = "ke", price: int = 400_000) -> Posting:
    command = PayForTask(
        submission_id=f"sub-{n}",
        task_id=f"task-{n}",
        worker_id=worker,
        region=region,
        platform_id="lab-a",
        task_type="image-bbox",
        price_micros=price,
        worked_seconds=90,
        source_event_id=f"evt-{n}",
    )
    return task_pay_posting(command, f"e-{n:04d}", T0 + timedelta(seconds=n))


def lost(n: int, worker: str = "w-1", region: str = "ke", seconds: int = 600) -> Posting:
    command = PayForTimeWorked(
        lease_id=f"lease-{n}",
        task_id=f"task-{n}",
        worker_id=worker,
        region=region,
        platform_id="lab-a",
        task_type="image-bbox",
        worked_seconds=seconds,
        source_event_id=f"evt-{n}",
    )
    posting = time_worked_posting(command, FLOOR, f"e-{n:04d}", T0 + timedelta(seconds=n))
    assert posting is not None
    return posting


def test_a_worker_never_paid_has_no_statement() -> None:
    assert statement_of("w-9", [pay(1)], max_lines=10) is None


def test_statement_totals_one_workers_postings() -> None:
    postings = [pay(1), lost(2), pay(3, worker="w-2")]

    statement = statement_of("w-1", postings, max_lines=10)

    assert statement is not None
    assert [line.entry_id for line in statement.lines] == ["e-0001", "e-0002"]
    assert [line.kind for line in statement.lines] == [EntryKind.TASK_PAY, EntryKind.TIME_WORKED]
    assert statement.balance_micros == 400_000 + 2_000_000
    assert statement.tasks_paid == 1
    assert statement.paid_seconds == 90 + 600


def test_statement_keeps_the_latest_lines_but_totals_everything() -> None:
    statement = statement_of("w-1", [pay(n) for n in range(5)], max_lines=2)

    assert statement is not None
    assert [line.entry_id for line in statement.lines] == ["e-0003", "e-0004"]
    assert statement.tasks_paid == 5
    assert statement.balance_micros == 5 * 400_000


def test_summary_of_an_empty_ledger_is_balanced() -> None:
    summary = summarize([])
    assert summary.balanced
    assert (summary.total_debits_micros, summary.total_credits_micros, summary.postings) == (
        0,
        0,
        0,
    )


def test_summary_sums_worker_pay_by_region() -> None:
    summary = summarize([pay(1, region="ke"), lost(2, region="ke"), pay(3, region="ph")])

    assert summary.balanced
    assert summary.postings == 3
    assert summary.total_debits_micros == summary.total_credits_micros == 2_800_000
    assert summary.regions == (
        RegionEarnings("ke", 2_400_000, 690, 1),
        RegionEarnings("ph", 400_000, 90, 1),
    )


@given(
    st.lists(st.tuples(st.sampled_from(["ke", "ph", "us"]), st.integers(1, 10**12)), max_size=30)
)
def test_any_ledger_of_payments_balances(payments: list[tuple[str, int]]) -> None:
    postings = [pay(n, region=region, price=price) for n, (region, price) in enumerate(payments)]

    summary = summarize(postings)

    assert summary.balanced
    assert summary.total_debits_micros == sum(price for _, price in payments)
    assert sum(r.earnings_micros for r in summary.regions) == summary.total_credits_micros
