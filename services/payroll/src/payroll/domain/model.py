"""The double-entry ledger: accounts, postings and their lines, in integer micro-dollars.

Sign convention: a debit is positive, a credit negative, and every posting's lines sum to
zero. Paying a worker debits the platform's escrow (money held for the platform is spent)
and credits the worker's payable account (money fairtask now owes the worker), so a
worker's balance is the negated sum of their payable account's lines.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from payroll.domain.errors import InvalidPostingError, UnbalancedPostingError

# Amounts live in PostgreSQL bigint and protobuf int64 columns.
MAX_MICROS = 2**63 - 1


class EntryKind(StrEnum):
    TASK_PAY = "task_pay"
    TIME_WORKED = "time_worked"
    # What the platform adds to a task's price so the time it took is paid at the floor.
    TOP_UP = "top_up"
    ONBOARDING = "onboarding"
    # Money a platform puts into, or takes back out of, its escrow.
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    # What a worker was owed, sent to them in a payout batch.
    PAYOUT = "payout"


# What a platform's escrow pays out for its work.
CHARGES = frozenset(
    {EntryKind.TASK_PAY, EntryKind.TIME_WORKED, EntryKind.TOP_UP, EntryKind.ONBOARDING}
)


class AccountKind(StrEnum):
    WORKER_PAYABLE = "worker_payable"
    PLATFORM_ESCROW = "platform_escrow"
    # Money outside fairtask: where deposits come from and withdrawals go to.
    PLATFORM_FUNDING = "platform_funding"
    # Payouts on their way to workers (to the payment provider).
    PAYOUT_CLEARING = "payout_clearing"


PAYOUT_CLEARING_ACCOUNT = "payouts:clearing"


def worker_payable(worker_id: str) -> str:
    return f"worker:{worker_id}:payable"


def worker_of_payable(account_id: str) -> str:
    return account_id.removeprefix("worker:").removesuffix(":payable")


def platform_escrow(platform_id: str) -> str:
    return f"platform:{platform_id}:escrow"


def platform_funding(platform_id: str) -> str:
    return f"platform:{platform_id}:funding"


@dataclass(frozen=True)
class Line:
    account_id: str
    account_kind: AccountKind
    # Debit positive, credit negative.
    amount_micros: int


@dataclass(frozen=True)
class Posting:
    """One business fact (a task paid, time worked) as a balanced set of lines.

    `source_key` names the fact itself (`task_pay:<submission_id>`), not the event that
    reported it, so a replayed or re-sent event finds the posting already there.
    """

    entry_id: str
    source_key: str
    kind: EntryKind
    worker_id: str
    region: str
    task_id: str
    platform_id: str
    task_type: str
    amount_micros: int
    paid_seconds: int
    source_event_id: str
    posted_at: datetime
    lines: tuple[Line, ...]

    def __post_init__(self) -> None:
        if not 0 < self.amount_micros <= MAX_MICROS:
            raise InvalidPostingError(
                "amount_micros", f"must be between 1 and {MAX_MICROS}, got {self.amount_micros}"
            )
        if self.paid_seconds < 0:
            raise InvalidPostingError("paid_seconds", "must not be negative")
        if len(self.lines) < 2 or sum(line.amount_micros for line in self.lines) != 0:
            raise UnbalancedPostingError("lines", "a posting needs lines that sum to zero")


def transfer(
    debit_account: str,
    debit_kind: AccountKind,
    credit_account: str,
    credit_kind: AccountKind,
    amount_micros: int,
) -> tuple[Line, Line]:
    """The two lines that move `amount_micros` from one account to another."""
    return (
        Line(debit_account, debit_kind, amount_micros),
        Line(credit_account, credit_kind, -amount_micros),
    )


@dataclass(frozen=True)
class StatementLine:
    entry_id: str
    kind: EntryKind
    amount_micros: int
    paid_seconds: int
    task_id: str
    posted_at: datetime


@dataclass(frozen=True)
class Statement:
    worker_id: str
    # The most recent lines, oldest first; the totals below always cover every posting.
    lines: tuple[StatementLine, ...]
    balance_micros: int
    tasks_paid: int
    paid_seconds: int
    # Sent in payouts; earned in all is this plus balance_micros.
    paid_out_micros: int = 0


@dataclass(frozen=True)
class RegionEarnings:
    region: str
    earnings_micros: int
    paid_seconds: int
    tasks_paid: int


@dataclass(frozen=True)
class LedgerSummary:
    balanced: bool
    total_debits_micros: int
    # A positive magnitude: the ledger balances when it equals total_debits_micros.
    total_credits_micros: int
    postings: int
    regions: tuple[RegionEarnings, ...]
