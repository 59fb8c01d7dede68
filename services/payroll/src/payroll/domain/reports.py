"""Statements and ledger summaries computed from postings.

The PostgreSQL adapter computes the same figures in SQL; the in-memory ledger uses these,
and the shared ledger contract tests hold both to the same answers.
"""

from collections import defaultdict
from collections.abc import Iterable

from payroll.domain.model import (
    CHARGES,
    EntryKind,
    LedgerSummary,
    Posting,
    RegionEarnings,
    Statement,
    StatementLine,
    worker_payable,
)


def statement_of(worker_id: str, postings: Iterable[Posting], max_lines: int) -> Statement | None:
    """The worker's statement, or None when they have never been paid."""
    own = sorted(
        (p for p in postings if p.worker_id == worker_id),
        key=lambda p: (p.posted_at, p.entry_id),
    )
    if not own:
        return None
    account = worker_payable(worker_id)
    balance = -sum(
        line.amount_micros for p in own for line in p.lines if line.account_id == account
    )
    return Statement(
        worker_id=worker_id,
        lines=tuple(
            StatementLine(
                entry_id=p.entry_id,
                kind=p.kind,
                amount_micros=p.amount_micros,
                paid_seconds=p.paid_seconds,
                task_id=p.task_id,
                posted_at=p.posted_at,
            )
            for p in own[-max_lines:]
        ),
        balance_micros=balance,
        tasks_paid=sum(1 for p in own if p.kind is EntryKind.TASK_PAY),
        paid_seconds=sum(p.paid_seconds for p in own),
        paid_out_micros=sum(p.amount_micros for p in own if p.kind is EntryKind.PAYOUT),
    )


def summarize(postings: Iterable[Posting]) -> LedgerSummary:
    debits = credits = 0
    every_posting_balanced = True
    count = 0
    earnings: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for posting in postings:
        count += 1
        amounts = [line.amount_micros for line in posting.lines]
        every_posting_balanced &= sum(amounts) == 0
        debits += sum(a for a in amounts if a > 0)
        credits -= sum(a for a in amounts if a < 0)
        if posting.kind not in CHARGES:
            continue  # a platform's deposit or withdrawal, nobody's earnings
        region = earnings[posting.region]
        region[0] += posting.amount_micros
        region[1] += posting.paid_seconds
        region[2] += posting.kind is EntryKind.TASK_PAY
    return LedgerSummary(
        balanced=every_posting_balanced and debits == credits,
        total_debits_micros=debits,
        total_credits_micros=credits,
        postings=count,
        regions=tuple(
            RegionEarnings(region, micros, seconds, tasks)
            for region, (micros, seconds, tasks) in sorted(earnings.items())
        ),
    )
