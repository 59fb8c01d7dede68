"""In-memory fakes of payroll's ports, for unit tests and the ledger contract suite."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from payroll.domain.escrow import (
    EscrowBalance,
    InsufficientEscrowError,
    TaskHold,
    check_deposit,
)
from payroll.domain.events import EntryPosted
from payroll.domain.model import (
    CHARGES,
    AccountKind,
    EntryKind,
    LedgerSummary,
    Posting,
    Statement,
    worker_of_payable,
    worker_payable,
)
from payroll.domain.payouts import payout_key, payout_posting
from payroll.domain.reports import statement_of, summarize
from payroll.service_layer.ports import LedgerUnavailableError, Posted


@dataclass
class _Hold:
    platform_id: str
    amount_micros: int
    state: str
    release_after: datetime | None = None
    unconfirmed_until: datetime | None = None


class MemoryLedger:
    def __init__(self) -> None:
        self.postings: dict[str, Posting] = {}
        self.holds: dict[str, _Hold] = {}
        # Set to make every call fail as if PostgreSQL were down.
        self.unavailable = False

    async def post(self, posting: Posting) -> Posted:
        self._check()
        stored = self.postings.get(posting.source_key)
        if stored is not None:
            return Posted(stored, created=False)
        self.postings[posting.source_key] = posting
        held = self.holds.get(posting.task_id)
        if posting.kind is EntryKind.TASK_PAY and held is not None and held.state == "held":
            held.state = "spent"
        return Posted(posting, created=True)

    async def escrow(self, platform_id: str) -> EscrowBalance:
        self._check()
        own = [p for p in self.postings.values() if p.platform_id == platform_id]

        def total(*kinds: EntryKind) -> int:
            return sum(p.amount_micros for p in own if p.kind in kinds)

        held = sum(
            h.amount_micros
            for h in self.holds.values()
            if h.platform_id == platform_id and h.state == "held"
        )
        return EscrowBalance(
            platform_id,
            total(EntryKind.DEPOSIT),
            total(EntryKind.WITHDRAWAL),
            total(*CHARGES),
            held,
        )

    async def hold(
        self,
        platform_id: str,
        holds: list[TaskHold],
        now: datetime,
        confirm_by: datetime | None = None,
    ) -> EscrowBalance:
        before = await self.escrow(platform_id)
        new = {
            h.task_id: h
            for h in holds
            if h.task_id not in self.holds or self.holds[h.task_id].state == "lapsed"
        }
        needed = sum(h.amount_micros for h in new.values())
        if needed > before.available_micros:
            raise InsufficientEscrowError(before, needed)
        for task_id, h in new.items():
            lapsed = self.holds.get(task_id)
            release_after = lapsed.release_after if lapsed else None
            self.holds[task_id] = _Hold(
                platform_id, h.amount_micros, "held", release_after, confirm_by
            )
        return await self.escrow(platform_id)

    async def confirm(self, task_ids: list[str]) -> int:
        self._check()
        changed = 0
        for task_id in task_ids:
            held = self.holds.get(task_id)
            if held is None or (held.unconfirmed_until is None and held.state != "lapsed"):
                continue
            held.unconfirmed_until = None
            if held.state == "lapsed":
                held.state = "held"
            changed += 1
        return changed

    async def release(self, task_id: str, now: datetime) -> bool:
        self._check()
        held = self.holds.get(task_id)
        if held is None or held.state != "held":
            return False
        held.state = "released"
        return True

    async def owed(
        self, minimum_micros: int, limit: int, after: str | None = None
    ) -> list[tuple[str, int]]:
        self._check()
        owed: dict[str, int] = {}  # by payable account
        for posting in self.postings.values():
            for line in posting.lines:
                if line.account_kind is AccountKind.WORKER_PAYABLE:
                    owed[line.account_id] = owed.get(line.account_id, 0) - line.amount_micros
        start = None if after is None else worker_payable(after)
        due = sorted(
            (account, n)
            for account, n in owed.items()
            if n >= max(minimum_micros, 1) and (start is None or account > start)
        )
        return [(worker_of_payable(account), n) for account, n in due[:limit]]

    async def pay_out(
        self, worker_id: str, batch_id: str, minimum_micros: int, entry_id: str, now: datetime
    ) -> Posted | None:
        stored = self.postings.get(payout_key(batch_id, worker_id))
        if stored is not None:
            return Posted(stored, created=False)
        owed = dict(await self.owed(1, 1_000_000)).get(worker_id, 0)
        if owed < max(minimum_micros, 1):
            return None
        return await self.post(payout_posting(worker_id, owed, batch_id, entry_id, now))

    async def batch(self, batch_id: str, limit: int, after: str | None = None) -> list[Posting]:
        payouts = sorted(
            (
                p
                for p in self.postings.values()
                if p.kind is EntryKind.PAYOUT
                and p.source_event_id == batch_id
                and (after is None or p.source_key > after)
            ),
            key=lambda p: p.source_key,
        )
        return payouts[:limit]

    async def deposit(self, posting: Posting) -> Posted:
        stored = self.postings.get(posting.source_key)
        if stored is not None:
            return Posted(stored, created=False)
        check_deposit(await self.escrow(posting.platform_id), posting.amount_micros)
        return await self.post(posting)

    async def release_after(self, task_id: str, at: datetime | None) -> None:
        held = self.holds.get(task_id)
        if held is not None and held.state == "held":
            held.release_after = at

    async def release_due(self, now: datetime, limit: int) -> int:
        return self._settle_due(lambda h: h.release_after, "released", now, limit)

    async def lapse_unconfirmed(self, now: datetime, limit: int) -> int:
        return self._settle_due(lambda h: h.unconfirmed_until, "lapsed", now, limit)

    def _settle_due(
        self, deadline: Callable[[_Hold], datetime | None], state: str, now: datetime, limit: int
    ) -> int:
        self._check()
        due = [
            h
            for h in self.holds.values()
            if h.state == "held" and (at := deadline(h)) is not None and at <= now
        ][:limit]
        for held in due:
            held.state = state
        return len(due)

    async def withdraw(self, posting: Posting) -> Posted:
        stored = self.postings.get(posting.source_key)
        if stored is not None:
            return Posted(stored, created=False)
        balance = await self.escrow(posting.platform_id)
        if balance.available_micros < posting.amount_micros:
            raise InsufficientEscrowError(balance, posting.amount_micros)
        return await self.post(posting)

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
