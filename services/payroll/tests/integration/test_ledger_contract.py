"""One contract for every Ledger: the in-memory fake and PostgreSQL must answer alike."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from payroll.adapters.memory import MemoryLedger
from payroll.adapters.postgres import PostgresLedger
from payroll.domain.commands import PayForTask, PayForTimeWorked
from payroll.domain.errors import InvalidPostingError
from payroll.domain.escrow import (
    InsufficientEscrowError,
    TaskHold,
    deposit_posting,
    withdrawal_posting,
)
from payroll.domain.model import MAX_MICROS, Posting, RegionEarnings
from payroll.domain.pay import task_pay_posting, time_worked_posting
from payroll.domain.payouts import payout_posting
from payroll.service_layer.ports import Ledger

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
FLOOR = 12_000_000


def entry_id(n: int) -> str:
    return f"00000000-0000-7000-8000-{n:012d}"


def pay(n: int, worker: str = "w-1", region: str = "ke", price: int = 400_000) -> Posting:
    command = PayForTask(
        f"sub-{n}", f"task-{n}", worker, region, "lab-a", "bbox", price, 90, f"evt-{n}"
    )
    return task_pay_posting(command, entry_id(n), T0 + timedelta(minutes=n))


def lost(n: int, worker: str = "w-1", region: str = "ke") -> Posting:
    command = PayForTimeWorked(
        f"lease-{n}", f"task-{n}", worker, region, "lab-a", "bbox", 600, f"evt-{n}"
    )
    posting = time_worked_posting(command, FLOOR, entry_id(n), T0 + timedelta(minutes=n))
    assert posting is not None
    return posting


@pytest.fixture
async def postgres_ledger(payroll_dsn: str) -> AsyncIterator[PostgresLedger]:
    ledger = PostgresLedger(payroll_dsn, timeout_s=10.0)
    try:
        yield ledger
    finally:
        await ledger.close()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def ledger(request: pytest.FixtureRequest) -> Ledger:
    if request.param == "memory":
        return MemoryLedger()
    # Requested lazily, so the memory variant needs no servers.
    postgres: PostgresLedger = request.getfixturevalue("postgres_ledger")
    return postgres


async def test_a_new_posting_is_created_and_returned_as_given(ledger: Ledger) -> None:
    posting = pay(1)

    posted = await ledger.post(posting)

    assert posted.created
    assert posted.posting == posting


async def test_the_same_source_key_posts_once_and_returns_the_stored_posting(
    ledger: Ledger,
) -> None:
    original = pay(1)
    await ledger.post(original)
    retry = task_pay_posting(
        PayForTask("sub-1", "task-1", "w-1", "ke", "lab-a", "bbox", 777, 90, "evt-other"),
        entry_id(99),
        T0 + timedelta(days=1),
    )

    posted = await ledger.post(retry)

    assert not posted.created
    assert posted.posting == original
    assert (await ledger.summary()).postings == 1


async def test_statement_of_a_worker_never_paid_is_none(ledger: Ledger) -> None:
    await ledger.post(pay(1, worker="w-1"))
    assert await ledger.statement("w-2", max_lines=10) is None


async def test_statement_lists_the_latest_lines_and_totals_everything(ledger: Ledger) -> None:
    for posting in [pay(1), lost(2), pay(3), pay(4, worker="w-2")]:
        await ledger.post(posting)

    statement = await ledger.statement("w-1", max_lines=2)

    assert statement is not None
    assert [line.entry_id for line in statement.lines] == [entry_id(2), entry_id(3)]
    assert [line.posted_at for line in statement.lines] == [
        T0 + timedelta(minutes=2),
        T0 + timedelta(minutes=3),
    ]
    assert statement.balance_micros == 400_000 + 2_000_000 + 400_000
    assert statement.tasks_paid == 2
    assert statement.paid_seconds == 90 + 600 + 90


async def test_summary_of_an_empty_ledger(ledger: Ledger) -> None:
    summary = await ledger.summary()

    assert summary.balanced
    assert (summary.postings, summary.total_debits_micros, summary.total_credits_micros) == (
        0,
        0,
        0,
    )
    assert summary.regions == ()


async def test_summary_totals_and_earnings_by_region(ledger: Ledger) -> None:
    for posting in [pay(1, region="ke"), lost(2, region="ke"), pay(3, "w-2", "ph", 500_000)]:
        await ledger.post(posting)

    summary = await ledger.summary()

    assert summary.balanced
    assert summary.postings == 3
    assert summary.total_debits_micros == summary.total_credits_micros == 2_900_000
    assert summary.regions == (
        RegionEarnings("ke", 2_400_000, 690, 1),
        RegionEarnings("ph", 500_000, 90, 1),
    )


def deposit(n: int, amount: int, platform: str = "lab-a") -> Posting:
    return deposit_posting(platform, f"dep-{n}", amount, entry_id(1000 + n), T0)


def withdrawal(n: int, amount: int, platform: str = "lab-a") -> Posting:
    return withdrawal_posting(platform, f"wd-{n}", amount, entry_id(2000 + n), T0)


async def test_an_unfunded_platform_cannot_hold_and_nothing_is_held(ledger: Ledger) -> None:
    with pytest.raises(InsufficientEscrowError) as refused:
        await ledger.hold("lab-a", [TaskHold("task-1", 400_000)], T0)
    assert (refused.value.balance.available_micros, refused.value.needed_micros) == (0, 400_000)
    assert (await ledger.escrow("lab-a")).held_micros == 0


async def test_holds_are_all_or_none_and_idempotent_per_task(ledger: Ledger) -> None:
    await ledger.post(deposit(1, 1_000_000))
    held = await ledger.hold(
        "lab-a", [TaskHold("task-1", 400_000), TaskHold("task-2", 400_000)], T0
    )
    assert (held.held_micros, held.available_micros) == (800_000, 200_000)
    # Holding the same tasks again holds nothing more.
    again = await ledger.hold("lab-a", [TaskHold("task-1", 400_000)], T0)
    assert again.held_micros == 800_000
    # A batch that does not fit holds none of it, not even the part that would.
    with pytest.raises(InsufficientEscrowError):
        await ledger.hold("lab-a", [TaskHold("task-3", 100_000), TaskHold("task-4", 400_000)], T0)
    assert (await ledger.escrow("lab-a")).held_micros == 800_000


async def test_paying_a_task_spends_its_hold_and_releasing_frees_it(ledger: Ledger) -> None:
    await ledger.post(deposit(1, 1_000_000))
    await ledger.hold("lab-a", [TaskHold("task-1", 400_000), TaskHold("task-2", 400_000)], T0)
    await ledger.post(pay(1))  # task-1, 400,000
    assert await ledger.release("task-2", T0)
    assert not await ledger.release("task-2", T0)
    assert not await ledger.release("task-1", T0)  # spent, not held
    balance = await ledger.escrow("lab-a")
    assert (balance.deposited_micros, balance.spent_micros, balance.held_micros) == (
        1_000_000,
        400_000,
        0,
    )
    assert balance.available_micros == 600_000
    assert (await ledger.summary()).balanced


async def test_only_available_funds_can_be_withdrawn(ledger: Ledger) -> None:
    await ledger.post(deposit(1, 1_000_000))
    await ledger.hold("lab-a", [TaskHold("task-1", 700_000)], T0)
    with pytest.raises(InsufficientEscrowError):
        await ledger.withdraw(withdrawal(1, 400_000))
    posted = await ledger.withdraw(withdrawal(2, 300_000))
    assert posted.created
    # The same withdrawal again is found, not paid out twice.
    assert not (await ledger.withdraw(withdrawal(2, 300_000))).created
    balance = await ledger.escrow("lab-a")
    assert (balance.withdrawn_micros, balance.available_micros) == (300_000, 0)
    # Deposits and withdrawals are nobody's earnings.
    summary = await ledger.summary()
    assert summary.balanced
    assert summary.regions == ()


async def test_deposits_stop_short_of_overflowing_and_count_once(ledger: Ledger) -> None:
    await ledger.post(deposit(1, MAX_MICROS - 10))
    assert not (await ledger.deposit(deposit(1, MAX_MICROS - 10))).created
    with pytest.raises(InvalidPostingError) as refused:
        await ledger.deposit(deposit(2, 11))
    assert refused.value.field == "amount_micros"
    assert (await ledger.deposit(deposit(3, 10))).created
    assert (await ledger.escrow("lab-a")).deposited_micros == MAX_MICROS


async def test_what_workers_are_owed_and_a_batch_of_payouts(ledger: Ledger) -> None:
    await ledger.post(pay(1, worker="w-1", price=400_000))
    await ledger.post(pay(2, worker="w-1", price=400_000))
    await ledger.post(pay(3, worker="w-2", price=300_000))
    assert await ledger.owed(500_000, 10) == [("w-1", 800_000)]
    assert await ledger.owed(1, 10) == [("w-1", 800_000), ("w-2", 300_000)]
    # A page at a time, from after the last worker of the page before.
    assert await ledger.owed(1, 1) == [("w-1", 800_000)]
    assert await ledger.owed(1, 1, after="w-1") == [("w-2", 300_000)]
    assert await ledger.owed(1, 1, after="w-2") == []

    await ledger.post(payout_posting("w-1", 800_000, "payout-batch:7", entry_id(50), T0))
    assert await ledger.owed(1, 10) == [("w-2", 300_000)]
    [payout] = await ledger.batch("payout-batch:7", 10)
    assert await ledger.batch("payout-batch:7", 10, after=payout.source_key) == []
    assert (payout.worker_id, payout.amount_micros) == ("w-1", 800_000)
    statement = await ledger.statement("w-1", 10)
    assert statement is not None
    assert (statement.balance_micros, statement.paid_out_micros) == (0, 800_000)
    summary = await ledger.summary()
    assert summary.balanced
    # A payout is nobody's earnings: the regions count what was earned, once.
    assert [(r.region, r.earnings_micros) for r in summary.regions] == [("ke", 1_100_000)]


async def test_a_rejections_hold_is_released_only_after_its_appeal_window(ledger: Ledger) -> None:
    await ledger.post(deposit(1, 800_000))
    await ledger.hold("lab-a", [TaskHold("task-1", 400_000), TaskHold("task-2", 400_000)], T0)
    window_end = T0 + timedelta(days=7)
    await ledger.release_after("task-1", window_end)
    await ledger.release_after("task-2", window_end)
    await ledger.release_after("task-2", None)  # appealed: held until answered
    # Still held: a granted appeal would be paid from it, so it cannot be withdrawn.
    with pytest.raises(InsufficientEscrowError):
        await ledger.withdraw(withdrawal(1, 400_000))
    assert await ledger.release_due(window_end - timedelta(seconds=1), 10) == 0
    assert await ledger.release_due(window_end, 10) == 1
    assert await ledger.release_due(window_end, 10) == 0
    balance = await ledger.escrow("lab-a")
    assert (balance.held_micros, balance.available_micros) == (400_000, 400_000)


async def test_two_payout_batches_never_pay_the_same_money(ledger: Ledger) -> None:
    await ledger.post(pay(1, worker="w-1", price=2_000_000))
    first = await ledger.pay_out("w-1", "payout-batch:1", 1_000_000, entry_id(60), T0)
    assert first is not None
    assert (first.created, first.posting.amount_micros) == (True, 2_000_000)
    # The same batch again finds its payout; another batch finds nothing owed.
    again = await ledger.pay_out("w-1", "payout-batch:1", 1_000_000, entry_id(61), T0)
    assert again is not None
    assert not again.created
    assert await ledger.pay_out("w-1", "payout-batch:2", 1_000_000, entry_id(62), T0) is None
    statement = await ledger.statement("w-1", 10)
    assert statement is not None
    assert (statement.balance_micros, statement.paid_out_micros) == (0, 2_000_000)


async def test_an_unconfirmed_hold_lapses_at_its_deadline_unless_confirmed(ledger: Ledger) -> None:
    await ledger.post(deposit(1, 1_200_000))
    deadline = T0 + timedelta(hours=1)
    await ledger.hold(
        "lab-a",
        [TaskHold(f"task-{n}", 400_000) for n in (1, 2, 3)],
        T0,
        confirm_by=deadline,
    )
    assert await ledger.confirm(["task-1", "task-9"]) == 1  # no hold for task-9: skipped
    assert await ledger.confirm(["task-1"]) == 0  # confirmed already
    assert await ledger.lapse_unconfirmed(deadline - timedelta(seconds=1), 10) == 0
    assert await ledger.lapse_unconfirmed(deadline, 10) == 2
    assert await ledger.lapse_unconfirmed(deadline, 10) == 0
    balance = await ledger.escrow("lab-a")
    assert (balance.held_micros, balance.available_micros) == (400_000, 800_000)
    # A lapsed hold holds nothing: it cannot be released or spent twice.
    assert not await ledger.release("task-2", deadline)


async def test_a_lapsed_hold_is_held_again_by_a_retry_or_a_late_confirmation(
    ledger: Ledger,
) -> None:
    await ledger.post(deposit(1, 800_000))
    deadline = T0 + timedelta(hours=1)
    holds = [TaskHold("task-1", 400_000), TaskHold("task-2", 400_000)]
    await ledger.hold("lab-a", holds, T0, confirm_by=deadline)
    assert await ledger.lapse_unconfirmed(deadline, 10) == 2

    # The platform retries task-1's submission: held again, with a new deadline.
    retried = await ledger.hold("lab-a", holds[:1], deadline, confirm_by=deadline + timedelta(1))
    assert retried.held_micros == 400_000
    assert await ledger.lapse_unconfirmed(deadline + timedelta(hours=2), 10) == 0
    # task-2 was published after all and payroll only now hears of it: the work will be done
    # and paid, so its price is held again, whatever the funds.
    await ledger.withdraw(withdrawal(1, 400_000))
    assert await ledger.confirm(["task-2"]) == 1
    balance = await ledger.escrow("lab-a")
    assert (balance.held_micros, balance.available_micros) == (800_000, -400_000)
    await ledger.post(pay(2))  # task-2, 400,000: spends its hold
    assert (await ledger.escrow("lab-a")).held_micros == 400_000
    assert (await ledger.summary()).balanced
