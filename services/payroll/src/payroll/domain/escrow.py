"""Escrow: a platform's funds, held for its tasks before they are dispatched.

A platform deposits money; each task it submits holds the task's price until the work is paid
(the hold is spent) or will not be (cancelled, or rejected without keeping the result once the
appeal window has closed or the appeal was upheld: the hold is released). What is neither held
nor spent is available, and only that can be held for new tasks or withdrawn. Deposits and
withdrawals are postings between the platform's funding account and its escrow account, so the
ledger balances as before.
"""

from dataclasses import dataclass
from datetime import datetime

from payroll.domain.errors import InvalidPostingError
from payroll.domain.model import (
    MAX_MICROS,
    AccountKind,
    EntryKind,
    Posting,
    platform_escrow,
    platform_funding,
    transfer,
)
from payroll.domain.pay import require_amount, require_ids

# One call holds at most this many tasks: a dispatcher batch (1,000 tasks) with every answer
# an overlapping task type may ask for (10 each).
MAX_HOLDS_PER_CALL = 10_000


@dataclass(frozen=True)
class TaskHold:
    task_id: str
    amount_micros: int


@dataclass(frozen=True)
class EscrowBalance:
    platform_id: str
    deposited_micros: int
    withdrawn_micros: int
    # Paid out for the platform's work: task pay, top-ups, time worked, onboarding.
    spent_micros: int
    held_micros: int

    @property
    def available_micros(self) -> int:
        """What new tasks can hold or a withdrawal take. Negative when the platform owes:
        top-ups and time paid at the floor are charged whether or not funds remain."""
        return self.deposited_micros - self.withdrawn_micros - self.spent_micros - self.held_micros


class InsufficientEscrowError(Exception):
    """The platform's available funds do not cover what it asked for; nothing was held or
    moved."""

    def __init__(self, balance: EscrowBalance, needed_micros: int) -> None:
        super().__init__(
            f"escrow of {balance.platform_id} has {balance.available_micros} micros available, "
            f"{needed_micros} needed"
        )
        self.balance = balance
        self.needed_micros = needed_micros


def check_deposit(balance: EscrowBalance, amount_micros: int) -> None:
    """Deposits add up in one int64: refuse one that would overflow it."""
    if balance.deposited_micros + amount_micros > MAX_MICROS:
        raise InvalidPostingError(
            "amount_micros", f"the platform's deposits cannot exceed {MAX_MICROS} micros in all"
        )


def check_holds(platform_id: str, holds: list[TaskHold]) -> None:
    """Raises InvalidPostingError naming the first field that cannot be held."""
    require_ids(platform_id=platform_id)
    if not holds:
        raise InvalidPostingError("holds", "name at least one task")
    if len(holds) > MAX_HOLDS_PER_CALL:
        raise InvalidPostingError("holds", f"at most {MAX_HOLDS_PER_CALL} per call")
    for i, hold in enumerate(holds):
        require_ids(**{f"holds[{i}].task_id": hold.task_id})
        require_amount(f"holds[{i}].amount_micros", hold.amount_micros)


def deposit_posting(
    platform_id: str, deposit_id: str, amount_micros: int, entry_id: str, now: datetime
) -> Posting:
    """Funds moved into the platform's escrow, once per deposit id."""
    return _movement(EntryKind.DEPOSIT, platform_id, deposit_id, amount_micros, entry_id, now)


def withdrawal_posting(
    platform_id: str, withdrawal_id: str, amount_micros: int, entry_id: str, now: datetime
) -> Posting:
    """Unused funds moved back out of the platform's escrow, once per withdrawal id."""
    return _movement(EntryKind.WITHDRAWAL, platform_id, withdrawal_id, amount_micros, entry_id, now)


def _movement(
    kind: EntryKind,
    platform_id: str,
    movement_id: str,
    amount_micros: int,
    entry_id: str,
    now: datetime,
) -> Posting:
    require_ids(platform_id=platform_id)
    require_ids(**{f"{kind.value}_id": movement_id})
    require_amount("amount_micros", amount_micros)
    escrow = (platform_escrow(platform_id), AccountKind.PLATFORM_ESCROW)
    funding = (platform_funding(platform_id), AccountKind.PLATFORM_FUNDING)
    # A deposit credits the escrow (fairtask now holds the platform's money), a withdrawal
    # debits it.
    debit, credit = (funding, escrow) if kind is EntryKind.DEPOSIT else (escrow, funding)
    return Posting(
        entry_id=entry_id,
        source_key=f"{kind.value}:{platform_id}:{movement_id}",
        kind=kind,
        worker_id="",
        region="",
        task_id="",
        platform_id=platform_id,
        task_type="",
        amount_micros=amount_micros,
        paid_seconds=0,
        source_event_id=movement_id,
        posted_at=now,
        lines=transfer(debit[0], debit[1], credit[0], credit[1], amount_micros),
    )
