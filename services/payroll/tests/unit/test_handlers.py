"""Posting, announcing and idempotency of the pay handlers, on in-memory fakes."""

from collections.abc import Callable
from dataclasses import replace

import pytest
from prometheus_client import REGISTRY

from fairtask_runtime.clock import FakeClock
from payroll.adapters.memory import MemoryEntryPublisher, MemoryLedger
from payroll.domain.commands import (
    GetStatement,
    OnboardingKind,
    PayForOnboarding,
    PayForTask,
    PayForTimeWorked,
)
from payroll.domain.errors import InvalidPostingError
from payroll.domain.escrow import TaskHold, deposit_posting
from payroll.domain.model import AccountKind, EntryKind, Line, platform_escrow, worker_payable
from payroll.service_layer.handlers import PayrollHandlers
from payroll.service_layer.ports import LedgerUnavailableError


def scored(event_id: str = "evt-1", submission_id: str = "sub-1", **changes: object) -> PayForTask:
    fields: dict[str, object] = {
        "submission_id": submission_id,
        "task_id": "task-1",
        "worker_id": "w-1",
        "region": "ke",
        "platform_id": "lab-a",
        "task_type": "image-bbox",
        "price_micros": 400_000,
        "worked_seconds": 90,
        "source_event_id": event_id,
    }
    fields.update(changes)
    return PayForTask(**fields)  # type: ignore[arg-type]


def released(seconds: int, lease_id: str = "lease-1") -> PayForTimeWorked:
    return PayForTimeWorked(
        lease_id=lease_id,
        task_id="task-2",
        worker_id="w-1",
        region="ke",
        platform_id="lab-a",
        task_type="image-bbox",
        worked_seconds=seconds,
        source_event_id="evt-lease",
    )


def counter(name: str, **labels: str) -> Callable[[], float]:
    return lambda: REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_scored_submission_is_posted_then_announced(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    [posting] = await handlers.pay_for_task(scored())

    assert list(ledger.postings) == ["task_pay:sub-1"]
    [event] = publisher.published
    assert event.entry_id == posting.entry_id
    assert (event.worker_id, event.region, event.kind) == ("w-1", "ke", EntryKind.TASK_PAY)
    assert (event.amount_micros, event.paid_seconds) == (400_000, 90)
    assert event.source_event_id == "evt-1"


async def test_a_replayed_or_resent_submission_pays_once_and_is_announced_again(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    [first] = await handlers.pay_for_task(scored("evt-1"))
    [again] = await handlers.pay_for_task(scored("evt-1"))
    [resent] = await handlers.pay_for_task(scored("evt-2", price_micros=999_999))

    assert len(ledger.postings) == 1
    assert first == again == resent
    assert [e.entry_id for e in publisher.published] == [first.entry_id] * 3
    # The stored posting is announced, not the resent event's figures.
    assert {(e.amount_micros, e.source_event_id) for e in publisher.published} == {
        (400_000, "evt-1")
    }


async def test_a_crash_between_commit_and_publish_loses_no_announcement(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    publisher.failures_left = 1
    with pytest.raises(ConnectionError):
        await handlers.pay_for_task(scored())
    assert len(ledger.postings) == 1
    assert publisher.published == []

    # The consumer retries the same event: nothing new is written, the entry is announced.
    [posting] = await handlers.pay_for_task(scored())

    assert len(ledger.postings) == 1
    assert [e.entry_id for e in publisher.published] == [posting.entry_id]


async def test_nothing_is_announced_when_the_ledger_is_down(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    ledger.unavailable = True
    with pytest.raises(LedgerUnavailableError):
        await handlers.pay_for_task(scored())
    assert publisher.published == []


async def test_an_invalid_submission_writes_and_announces_nothing(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    with pytest.raises(InvalidPostingError):
        await handlers.pay_for_task(scored(worker_id=""))
    assert ledger.postings == {}
    assert publisher.published == []


async def test_a_lost_lease_pays_the_floor_for_the_time_worked(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    posting = await handlers.pay_for_time_worked(released(seconds=900))

    assert posting is not None
    assert posting.amount_micros == 3_000_000  # 15 minutes at $12/h
    assert posting.kind is EntryKind.TIME_WORKED
    assert list(ledger.postings) == ["time_worked:lease-1"]
    assert [e.amount_micros for e in publisher.published] == [3_000_000]


async def test_a_lease_lost_before_any_work_pays_nothing(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    assert await handlers.pay_for_time_worked(released(seconds=0)) is None
    assert ledger.postings == {}
    assert publisher.published == []


async def test_metrics_count_new_postings_only(handlers: PayrollHandlers) -> None:
    postings = counter("fairtask_payroll_postings_total", kind="task_pay")
    micros = counter("fairtask_payroll_paid_micros_total", region="metrics-only")
    seconds = counter("fairtask_payroll_paid_seconds_total", region="metrics-only")
    below = counter("fairtask_payments_below_floor_total")
    before = postings(), micros(), seconds(), below()

    await handlers.pay_for_task(scored(region="metrics-only", submission_id="sub-m"))
    await handlers.pay_for_task(scored(region="metrics-only", submission_id="sub-m"))

    assert postings() - before[0] == 1
    assert micros() - before[1] == 400_000
    assert seconds() - before[2] == 90
    assert below() == before[3]


async def test_a_task_that_took_longer_than_its_price_covers_is_topped_up_to_the_floor(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    below = counter("fairtask_payments_below_floor_total")
    top_ups = counter("fairtask_payroll_postings_total", kind="top_up")
    before = below(), top_ups()

    # $0.40 priced for 90 s, but it took 5 minutes: $1.00 at $12/h, so the platform adds $0.60.
    task_pay, top_up = await handlers.pay_for_task(scored(worked_seconds=300))

    assert (task_pay.kind, task_pay.amount_micros, task_pay.paid_seconds) == (
        EntryKind.TASK_PAY,
        400_000,
        300,
    )
    assert (top_up.kind, top_up.amount_micros, top_up.paid_seconds) == (
        EntryKind.TOP_UP,
        600_000,
        0,
    )
    assert top_up.lines == (
        Line(platform_escrow("lab-a"), AccountKind.PLATFORM_ESCROW, 600_000),
        Line(worker_payable("w-1"), AccountKind.WORKER_PAYABLE, -600_000),
    )
    assert list(ledger.postings) == ["task_pay:sub-1", "top_up:sub-1"]
    assert [e.kind for e in publisher.published] == [EntryKind.TASK_PAY, EntryKind.TOP_UP]
    assert (below() - before[0], top_ups() - before[1]) == (0, 1)

    # Replayed, it posts neither again.
    await handlers.pay_for_task(scored("evt-2", worked_seconds=300))
    assert len(ledger.postings) == 2


async def test_a_price_that_covers_the_time_worked_needs_no_top_up(
    handlers: PayrollHandlers, ledger: MemoryLedger
) -> None:
    # $0.40 pays $12/h for up to 120 s exactly.
    await handlers.pay_for_task(scored(worked_seconds=120))

    assert list(ledger.postings) == ["task_pay:sub-1"]


async def test_a_crash_between_task_pay_and_top_up_is_repaired_by_the_redelivery(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    publisher.failures_left = 1  # the task pay's announcement fails: the top-up is not reached
    with pytest.raises(ConnectionError):
        await handlers.pay_for_task(scored(worked_seconds=300))
    assert list(ledger.postings) == ["task_pay:sub-1"]

    await handlers.pay_for_task(scored(worked_seconds=300))

    assert list(ledger.postings) == ["task_pay:sub-1", "top_up:sub-1"]


async def test_onboarding_is_paid_at_the_floor_once(
    handlers: PayrollHandlers, ledger: MemoryLedger
) -> None:
    step = PayForOnboarding(
        onboarding_id="onb-1",
        worker_id="w-1",
        region="ke",
        platform_id="lab-a",
        task_type="image-bbox",
        kind=OnboardingKind.QUALIFICATION,
        seconds=600,
        source_event_id="evt-onb",
    )

    posting = await handlers.pay_for_onboarding(step)
    await handlers.pay_for_onboarding(step)

    assert posting is not None
    assert (posting.kind, posting.amount_micros, posting.paid_seconds) == (
        EntryKind.ONBOARDING,
        2_000_000,  # 10 minutes at $12/h
        600,
    )
    assert posting.task_id == ""
    assert list(ledger.postings) == ["onboarding:onb-1"]
    assert (
        await handlers.pay_for_onboarding(replace(step, onboarding_id="onb-2", seconds=0)) is None
    )


async def test_statement_and_summary_read_the_ledger(handlers: PayrollHandlers) -> None:
    await handlers.pay_for_task(scored())
    await handlers.pay_for_time_worked(released(seconds=900))

    statement = await handlers.statement(GetStatement("w-1"))
    summary = await handlers.ledger_summary()

    assert statement is not None
    assert statement.balance_micros == 3_400_000
    assert await handlers.statement(GetStatement("w-unknown")) is None
    assert summary.balanced
    assert summary.postings == 2


async def test_every_due_hold_is_settled_however_many_pages_they_fill(
    handlers: PayrollHandlers, ledger: MemoryLedger, clock: FakeClock
) -> None:
    await ledger.post(deposit_posting("lab-a", "d-1", 5_000_000, "dep-entry-1", clock.now()))
    await handlers.hold_for_tasks("lab-a", [TaskHold(f"task-{n}", 400_000) for n in range(5)])
    lapsed_before = REGISTRY.get_sample_value("fairtask_payroll_holds_lapsed_total") or 0.0

    clock.advance(handlers.confirm_holds_within.total_seconds())
    assert await handlers.release_due_holds(page=2) == 5

    assert {held.state for held in ledger.holds.values()} == {"lapsed"}
    assert REGISTRY.get_sample_value("fairtask_payroll_holds_lapsed_total") == lapsed_before + 5
    assert await handlers.release_due_holds(page=2) == 0
