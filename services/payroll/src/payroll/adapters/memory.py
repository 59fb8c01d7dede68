"""In-memory fakes of payroll's ports, for unit tests and the ledger contract suite."""

from payroll.domain.events import EntryPosted
from payroll.domain.model import LedgerSummary, Posting, Statement
from payroll.domain.reports import statement_of, summarize
from payroll.service_layer.ports import LedgerUnavailableError, Posted


class MemoryLedger:
    def __init__(self) -> None:
        self.postings: dict[str, Posting] = {}
        # Set to make every call fail as if PostgreSQL were down.
        self.unavailable = False

    async def post(self, posting: Posting) -> Posted:
        self._check()
        stored = self.postings.get(posting.source_key)
        if stored is not None:
            return Posted(stored, created=False)
        self.postings[posting.source_key] = posting
        return Posted(posting, created=True)

    async def statement(self, worker_id: str, max_lines: int) -> Statement | None:
        self._check()
        return statement_of(worker_id, self.postings.values(), max_lines)

    async def summary(self) -> LedgerSummary:
        self._check()
        return summarize(self.postings.values())

    def _check(self) -> None:
        if self.unavailable:
            raise LedgerUnavailableError("memory ledger marked unavailable")


class MemoryEntryPublisher:
    def __init__(self) -> None:
        self.published: list[EntryPosted] = []
        # Number of upcoming publish calls that fail, as a broker outage would.
        self.failures_left = 0

    async def publish(self, event: EntryPosted) -> None:
        if self.failures_left > 0:
            self.failures_left -= 1
            raise ConnectionError("memory publisher told to fail")
        self.published.append(event)
