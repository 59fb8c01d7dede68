"""What payroll's handlers need from the outside world."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from payroll.domain.escrow import EscrowBalance, TaskHold
from payroll.domain.events import EntryPosted
from payroll.domain.model import LedgerSummary, Posting, Statement


class LedgerUnavailableError(Exception):
    """The ledger could not be reached in time. Transient: the same call may be retried."""


@dataclass(frozen=True)
class Posted:
    # The posting as stored: the caller's, or the one already there for its source_key.
    posting: Posting
    created: bool


class Ledger(Protocol):
    """The double-entry ledger. Every call has a deadline and raises LedgerUnavailableError
    when the store cannot answer within it."""

    async def post(self, posting: Posting) -> Posted:
        """Writes the posting and its lines atomically, unless a posting with the same
        source_key exists, in which case nothing is written and the stored one is returned.
        Idempotent and safe under concurrent callers (two replicas, one fact: one posting)."""
        ...

    async def statement(self, worker_id: str, max_lines: int) -> Statement | None:
        """The worker's statement with at most `max_lines` most recent lines (totals cover
        every posting), or None when the worker has no postings. Read-only."""
        ...

    async def summary(self) -> LedgerSummary:
        """Totals over the whole ledger, from one consistent snapshot. Read-only."""
        ...

    async def escrow(self, platform_id: str) -> EscrowBalance:
        """The platform's escrow as it stands (all zero for one never seen). Read-only."""
        ...

    async def hold(
        self,
        platform_id: str,
        holds: list[TaskHold],
        now: datetime,
        confirm_by: datetime | None = None,
    ) -> EscrowBalance:
        """Holds each task's price unless the task already has a hold (of any state but
        lapsed), all or none: raises InsufficientEscrowError, holding nothing, when the new
        holds exceed the available funds. A hold with `confirm_by` lapses then unless
        `confirm` is told of its task first (None: confirmed already). Paying a task (a
        TASK_PAY posting) spends its hold in the same transaction. Returns the balance after."""
        ...

    async def confirm(self, task_ids: list[str]) -> int:
        """The tasks were published: their holds no longer lapse, and lapsed ones are held
        again. Ids without a hold are skipped. Returns how many holds changed."""
        ...

    async def release(self, task_id: str, now: datetime) -> bool:
        """Returns a task's held price to the available funds; False when it holds nothing
        (never held, already spent or released)."""
        ...

    async def owed(
        self, minimum_micros: int, limit: int, after: str | None = None
    ) -> list[tuple[str, int]]:
        """(worker id, micros owed) of up to `limit` workers owed at least the minimum, in the
        order of their payable accounts; with `after`, those following that worker's (the
        next page)."""
        ...

    async def pay_out(
        self, worker_id: str, batch_id: str, minimum_micros: int, entry_id: str, now: datetime
    ) -> Posted | None:
        """Pays the worker out all they are owed as the batch's payout, reading what they are
        owed under a per-worker lock in the same transaction (two batches never pay the same
        money); the stored payout if the batch already paid them; None when they are owed
        less than the minimum."""
        ...

    async def batch(self, batch_id: str, limit: int, after: str | None = None) -> list[Posting]:
        """Up to `limit` payouts posted in a batch, in source key order; with `after`, those
        following that source key (the next page)."""
        ...

    async def deposit(self, posting: Posting) -> Posted:
        """Posts a deposit, or finds it already posted; raises InvalidPostingError (posting
        nothing) when it would take the platform's deposits past the largest amount held."""
        ...

    async def release_after(self, task_id: str, at: datetime | None) -> None:
        """Schedules a held task's release (None: keeps it held until told otherwise)."""
        ...

    async def release_due(self, now: datetime, limit: int) -> int:
        """Releases the holds scheduled by now; returns how many."""
        ...

    async def lapse_unconfirmed(self, now: datetime, limit: int) -> int:
        """Lets the holds still unconfirmed at their deadline lapse; returns how many."""
        ...

    async def withdraw(self, posting: Posting) -> Posted:
        """Posts a withdrawal if the available funds cover it, or finds it already posted;
        raises InsufficientEscrowError otherwise, posting nothing."""
        ...


class EntryPublisher(Protocol):
    async def publish(self, event: EntryPosted) -> None:
        """Returns once the event is durably on `payroll.entries`; raises otherwise (the
        caller retries). May deliver the same entry more than once: consumers dedupe on
        entry_id."""
        ...
