"""Payroll's use cases: post pay to the ledger, announce it, and answer statements."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from fairtask_runtime.answers import MAX_ANSWERS, answer_task_ids
from fairtask_runtime.clock import Clock
from payroll import metrics
from payroll.domain.commands import GetStatement, PayForOnboarding, PayForTask, PayForTimeWorked
from payroll.domain.escrow import (
    EscrowBalance,
    TaskHold,
    check_holds,
    deposit_posting,
    withdrawal_posting,
)
from payroll.domain.events import entry_posted
from payroll.domain.model import LedgerSummary, Posting, Statement
from payroll.domain.pay import (
    is_below_floor,
    onboarding_posting,
    task_pay_posting,
    time_worked_posting,
    top_up_posting,
)
from payroll.service_layer.ports import EntryPublisher, Ledger

log = structlog.get_logger(__name__)

# After an appeal window closes, how long an appeal filed at its last moment has to reach us.
APPEAL_SETTLING = timedelta(hours=1)


@dataclass(frozen=True)
class PayrollHandlers:
    ledger: Ledger
    publisher: EntryPublisher
    clock: Clock
    # Posting ids; time-ordered (UUIDv7) in production so the primary key index stays local.
    new_id: Callable[[], str]
    floor_micros_per_hour: int
    statement_max_lines: int = 1000
    # A hold whose task is not seen published within this long lapses (the publish failed and
    # the platform never retried); a retry or a late confirmation holds it again.
    confirm_holds_within: timedelta = timedelta(hours=1)

    async def pay_for_task(self, command: PayForTask) -> tuple[Posting, ...]:
        """Posts the task's price, then the platform's top-up when the time worked took the
        price below the floor. Returns what was posted. Raises InvalidPostingError
        (permanent) or LedgerUnavailableError (transient): a crash between the two postings
        is repaired by the redelivery, which finds the first and writes the second."""
        now = self.clock.now()
        task_pay = task_pay_posting(command, entry_id=self.new_id(), now=now)
        top_up = top_up_posting(
            command, self.floor_micros_per_hour, entry_id=self.new_id(), now=now
        )
        paid_micros = command.price_micros + (top_up.amount_micros if top_up else 0)
        below_floor = is_below_floor(
            paid_micros, command.worked_seconds, self.floor_micros_per_hour
        )
        posted = [await self._post(task_pay, below_floor=below_floor)]
        if top_up is not None:
            posted.append(await self._post(top_up, below_floor=False))
        return tuple(posted)

    async def pay_for_onboarding(self, command: PayForOnboarding) -> Posting | None:
        """None when the step took no time; raises like pay_for_task."""
        posting = onboarding_posting(
            command, self.floor_micros_per_hour, entry_id=self.new_id(), now=self.clock.now()
        )
        if posting is None:
            log.info("onboarding took no time", onboarding_id=command.onboarding_id)
            return None
        return await self._post(posting, below_floor=False)

    async def pay_for_time_worked(self, command: PayForTimeWorked) -> Posting | None:
        """None when no time was worked; raises like pay_for_task."""
        posting = time_worked_posting(
            command, self.floor_micros_per_hour, entry_id=self.new_id(), now=self.clock.now()
        )
        if posting is None:
            log.info("lease released with no time worked", lease_id=command.lease_id)
            return None
        return await self._post(posting, below_floor=False)

    async def statement(self, query: GetStatement) -> Statement | None:
        return await self.ledger.statement(query.worker_id, self.statement_max_lines)

    async def ledger_summary(self) -> LedgerSummary:
        return await self.ledger.summary()

    async def pay_out(self, batch_id: str, minimum_micros: int, page: int = 10_000) -> int:
        """Pays each worker owed at least the minimum all they are owed, once per batch, then
        announces every payout of the batch (again after a crash: announcing twice is the
        same event). Every worker owed is paid, `page` at a time. Returns how many payouts
        this call posted."""
        now = self.clock.now()
        posted = 0
        owed = _pages(
            lambda after: self.ledger.owed(minimum_micros, page, after), lambda row: row[0], page
        )
        async for worker_id, _ in owed:
            stored = await self.ledger.pay_out(
                worker_id, batch_id, minimum_micros, self.new_id(), now
            )
            if stored is not None and stored.created:
                posted += 1
                metrics.PAYOUTS.inc()
                metrics.PAID_OUT_MICROS.inc(stored.posting.amount_micros)
        payouts = _pages(
            lambda after: self.ledger.batch(batch_id, page, after), lambda p: p.source_key, page
        )
        async for payout in payouts:
            await self.publisher.publish(entry_posted(payout))
        if posted:
            log.info("payout batch", batch_id=batch_id, payouts=posted)
        return posted

    async def escrow(self, platform_id: str) -> EscrowBalance:
        return await self.ledger.escrow(platform_id)

    async def deposit(self, platform_id: str, deposit_id: str, amount_micros: int) -> EscrowBalance:
        """Idempotent per deposit id: the same deposit sent twice is counted once."""
        posting = deposit_posting(
            platform_id, deposit_id, amount_micros, self.new_id(), self.clock.now()
        )
        await self.ledger.deposit(posting)
        return await self.ledger.escrow(platform_id)

    async def withdraw(
        self, platform_id: str, withdrawal_id: str, amount_micros: int
    ) -> EscrowBalance:
        """Raises InsufficientEscrowError when more than the available funds is asked for."""
        posting = withdrawal_posting(
            platform_id, withdrawal_id, amount_micros, self.new_id(), self.clock.now()
        )
        await self.ledger.withdraw(posting)
        return await self.ledger.escrow(platform_id)

    async def hold_for_tasks(self, platform_id: str, holds: list[TaskHold]) -> EscrowBalance:
        """Raises InvalidPostingError or InsufficientEscrowError, holding nothing."""
        check_holds(platform_id, holds)
        now = self.clock.now()
        return await self.ledger.hold(platform_id, holds, now, now + self.confirm_holds_within)

    async def confirm_holds(self, task_id: str) -> int:
        """The task was published: the holds of every answer it may need stay (each answer's
        copy was held with it)."""
        return await self.ledger.confirm(answer_task_ids(task_id, MAX_ANSWERS))

    async def hold_through_appeals(self, task_id: str, appeal_until: datetime | None) -> None:
        """A rejection the worker may still appeal: the price stays held (a granted appeal is
        paid from it) until a margin after the window closes; None keeps it held (appealed)."""
        at = None if appeal_until is None else appeal_until + APPEAL_SETTLING
        await self.ledger.release_after(task_id, at)

    async def release_due_holds(self, page: int = 10_000) -> int:
        """Releases the holds whose appeal windows closed, and lets those never confirmed
        lapse, `page` at a time until none is due. Returns how many holds it settled."""
        now = self.clock.now()
        released = await _all_pages(lambda: self.ledger.release_due(now, page), page)
        if released:
            log.info("escrow holds released after their appeal windows", holds=released)
        lapsed = await _all_pages(lambda: self.ledger.lapse_unconfirmed(now, page), page)
        if lapsed:
            metrics.HOLDS_LAPSED.inc(lapsed)
            log.warning("escrow holds lapsed: their tasks were never published", holds=lapsed)
        return released + lapsed

    async def release_hold(self, task_id: str) -> bool:
        released = await self.ledger.release(task_id, self.clock.now())
        if released:
            log.info("escrow hold released", task_id=task_id)
        return released

    async def _post(self, posting: Posting, below_floor: bool) -> Posting:
        # The commit inside post() is the effect; everything after it may be lost to a crash
        # and redone on redelivery, which finds the stored posting and writes nothing.
        posted = await self.ledger.post(posting)
        stored = posted.posting
        if posted.created:
            metrics.record_posting(
                stored.kind, stored.region, stored.amount_micros, stored.paid_seconds, below_floor
            )
        else:
            log.info(
                "posting already in the ledger",
                source_key=stored.source_key,
                entry_id=stored.entry_id,
            )
        # Announce on replays too: if a crash fell between the commit and this publish, the
        # redelivered event is the only chance to announce the entry. Duplicates carry the
        # same entry_id, which downstream dedupes on.
        await self.publisher.publish(entry_posted(stored))
        return stored


async def _all_pages(settle_page: Callable[[], Awaitable[int]], page: int) -> int:
    """Calls `settle_page` until it settles less than a full page; returns the total."""
    total = 0
    while (settled := await settle_page()) == page:
        total += settled
    return total + settled


Row = TypeVar("Row")


async def _pages(
    read: Callable[[str | None], Awaitable[list[Row]]], key: Callable[[Row], str], page: int
) -> AsyncIterator[Row]:
    """Every row `read` gives, a page at a time after the `key` of the last row read, until a
    page comes back short."""
    after: str | None = None
    while True:
        rows = await read(after)
        for row in rows:
            yield row
        if len(rows) < page:
            return
        after = key(rows[-1])
