"""Payroll's use cases: post pay to the ledger, announce it, and answer statements."""

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from fairtask_runtime.clock import Clock
from payroll import metrics
from payroll.domain.commands import GetStatement, PayForTask, PayForTimeWorked
from payroll.domain.events import entry_posted
from payroll.domain.model import LedgerSummary, Posting, Statement
from payroll.domain.pay import is_below_floor, task_pay_posting, time_worked_posting
from payroll.service_layer.ports import EntryPublisher, Ledger

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PayrollHandlers:
    ledger: Ledger
    publisher: EntryPublisher
    clock: Clock
    # Posting ids; time-ordered (UUIDv7) in production so the primary key index stays local.
    new_id: Callable[[], str]
    floor_micros_per_hour: int
    statement_max_lines: int = 1000

    async def pay_for_task(self, command: PayForTask) -> Posting:
        """Raises InvalidPostingError (permanent) or LedgerUnavailableError (transient)."""
        posting = task_pay_posting(command, entry_id=self.new_id(), now=self.clock.now())
        below_floor = is_below_floor(
            command.price_micros, command.worked_seconds, self.floor_micros_per_hour
        )
        return await self._post(posting, below_floor=below_floor)

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
