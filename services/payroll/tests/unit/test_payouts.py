"""Payout batches: everyone owed the minimum is paid all they are owed, once per batch, and
every payout of the batch is announced, again after a crash."""

from datetime import UTC, datetime, timedelta

from payroll.adapters.memory import MemoryEntryPublisher, MemoryLedger
from payroll.domain.commands import PayForTask
from payroll.domain.model import EntryKind
from payroll.domain.payouts import batch_of
from payroll.service_layer.handlers import PayrollHandlers


def _task(n: int, worker: str, price: int) -> PayForTask:
    return PayForTask(f"s-{n}", f"t-{n}", worker, "ke", "lab-a", "bbox", price, 60, f"e-{n}")


async def test_a_batch_pays_each_worker_owed_the_minimum_once(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    await handlers.pay_for_task(_task(1, "w-1", 700_000))
    await handlers.pay_for_task(_task(2, "w-1", 700_000))
    await handlers.pay_for_task(_task(3, "w-2", 400_000))
    publisher.published.clear()

    assert await handlers.pay_out("payout-batch:1", minimum_micros=1_000_000) == 1
    [payout] = [e for e in publisher.published if e.kind is EntryKind.PAYOUT]
    assert (payout.worker_id, payout.amount_micros, payout.source_event_id) == (
        "w-1",
        1_400_000,
        "payout-batch:1",
    )
    # The same batch again posts nothing new but announces its payout again (same entry).
    assert await handlers.pay_out("payout-batch:1", minimum_micros=1_000_000) == 0
    again = [e for e in publisher.published if e.kind is EntryKind.PAYOUT]
    assert [e.entry_id for e in again] == [payout.entry_id, payout.entry_id]
    # w-2's $0.40 waits for a batch in which it reaches the minimum.
    assert await ledger.owed(1, 10) == [("w-2", 400_000)]
    assert (await ledger.summary()).balanced


def test_a_batch_is_one_day_since_the_epoch() -> None:
    day = 24 * 3600.0
    midnight = datetime(2026, 1, 1, tzinfo=UTC)
    assert batch_of(midnight, day) == "payout-batch:20454"
    assert batch_of(midnight + timedelta(hours=23, minutes=59), day) == "payout-batch:20454"
    assert batch_of(midnight - timedelta(seconds=1), day) == "payout-batch:20453"


async def test_a_batch_pays_every_worker_owed_however_many_pages_they_fill(
    handlers: PayrollHandlers, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    for n in range(5):
        await handlers.pay_for_task(_task(n, f"w-{n}", 1_000_000))

    assert await handlers.pay_out("payout-batch:1", minimum_micros=1_000_000, page=2) == 5
    assert await ledger.owed(1, 10) == []
    # And every payout of the batch is announced, page after page.
    announced = {e.worker_id for e in publisher.published if e.kind is EntryKind.PAYOUT}
    assert announced == {f"w-{n}" for n in range(5)}
