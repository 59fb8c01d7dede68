"""What payroll's handlers need from the outside world."""

from dataclasses import dataclass
from typing import Protocol

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


class EntryPublisher(Protocol):
    async def publish(self, event: EntryPosted) -> None:
        """Returns once the event is durably on `payroll.entries`; raises otherwise (the
        caller retries). May deliver the same entry more than once: consumers dedupe on
        entry_id."""
        ...
