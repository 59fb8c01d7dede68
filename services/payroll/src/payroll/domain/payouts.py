"""Payouts: what each worker is owed, sent in batches.

A batch is one period (a day by default) named by its number since the epoch; each worker is
paid out at most once per batch (`payout:<batch>:<worker>`), all they are owed when it runs,
if it reaches the minimum. The payout moves the amount from the worker's payable account to
the payouts clearing account, from which the payment provider sends it.
"""

from datetime import datetime

from payroll.domain.model import (
    PAYOUT_CLEARING_ACCOUNT,
    AccountKind,
    EntryKind,
    Posting,
    transfer,
    worker_payable,
)
from payroll.domain.pay import require_amount, require_ids


def batch_of(now: datetime, period_s: float) -> str:
    return f"payout-batch:{int(now.timestamp() // period_s)}"


def payout_key(batch_id: str, worker_id: str) -> str:
    return f"payout:{batch_id}:{worker_id}"


def payout_posting(
    worker_id: str, owed_micros: int, batch_id: str, entry_id: str, now: datetime
) -> Posting:
    require_ids(worker_id=worker_id, batch_id=batch_id)
    require_amount("owed_micros", owed_micros)
    return Posting(
        entry_id=entry_id,
        source_key=payout_key(batch_id, worker_id),
        kind=EntryKind.PAYOUT,
        worker_id=worker_id,
        region="",
        task_id="",
        platform_id="",
        task_type="",
        amount_micros=owed_micros,
        paid_seconds=0,
        source_event_id=batch_id,
        posted_at=now,
        # Fairtask owes the worker less (debit their payable), and the money is on its way.
        lines=transfer(
            worker_payable(worker_id),
            AccountKind.WORKER_PAYABLE,
            PAYOUT_CLEARING_ACCOUNT,
            AccountKind.PAYOUT_CLEARING,
            owed_micros,
        ),
    )
