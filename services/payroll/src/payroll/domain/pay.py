"""Turning pay commands into balanced postings, and the pay-floor arithmetic.

All arithmetic is on integers: hourly rates are micro-dollars per hour and pay at the floor
for a number of seconds rounds up to the micro-dollar (rounding down would pay a fraction of a
micro-dollar below the floor), never through a float. No function here takes a region: the
same work is paid the same wherever it was done.
"""

from datetime import datetime

from payroll.domain.commands import PayForOnboarding, PayForTask, PayForTimeWorked
from payroll.domain.errors import InvalidPostingError
from payroll.domain.model import (
    MAX_MICROS,
    AccountKind,
    EntryKind,
    Posting,
    platform_escrow,
    transfer,
    worker_payable,
)

SECONDS_PER_HOUR = 3600
# Ids become account and source keys; a bound keeps a hostile event from bloating them.
MAX_ID_LENGTH = 200


def floor_pay_micros(worked_seconds: int, floor_micros_per_hour: int) -> int:
    """Pay at the floor for `worked_seconds`, rounded up to the micro-dollar."""
    if worked_seconds < 0 or floor_micros_per_hour < 0:
        raise InvalidPostingError("worked_seconds", "time and rates are never negative")
    return -(-worked_seconds * floor_micros_per_hour // SECONDS_PER_HOUR)


def is_below_floor(price_micros: int, worked_seconds: int, floor_micros_per_hour: int) -> bool:
    """True when `price_micros` for `worked_seconds` pays less than the hourly floor.

    Compares price*3600 with floor*seconds rather than dividing, so no rounding can hide a
    shortfall. Zero seconds worked cannot be underpaid.
    """
    return price_micros * SECONDS_PER_HOUR < floor_micros_per_hour * worked_seconds


def task_pay_posting(command: PayForTask, entry_id: str, now: datetime) -> Posting:
    """Pays the task's price from the platform's escrow to the worker."""
    require_ids(
        submission_id=command.submission_id,
        task_id=command.task_id,
        worker_id=command.worker_id,
        platform_id=command.platform_id,
        region=command.region,
    )
    _require_text(task_type=command.task_type, source_event_id=command.source_event_id)
    require_amount("price_micros", command.price_micros)
    return _pay(
        entry_id=entry_id,
        source_key=f"task_pay:{command.submission_id}",
        kind=EntryKind.TASK_PAY,
        worker_id=command.worker_id,
        region=command.region,
        task_id=command.task_id,
        platform_id=command.platform_id,
        task_type=command.task_type,
        amount_micros=command.price_micros,
        paid_seconds=command.worked_seconds,
        source_event_id=command.source_event_id,
        posted_at=now,
    )


def top_up_posting(
    command: PayForTask, floor_micros_per_hour: int, entry_id: str, now: datetime
) -> Posting | None:
    """What the platform adds to the task's price so the time worked is paid at the floor
    (observed effort above the estimate the price was checked against); None when the price
    already pays it. Its own fact (`top_up:<submission_id>`), beside the task pay, so both
    stay visible and each is posted once. Its paid seconds are 0: the task pay counts them."""
    shortfall = floor_pay_micros(command.worked_seconds, floor_micros_per_hour)
    shortfall -= command.price_micros
    if shortfall <= 0:
        return None
    require_amount("worked_seconds", shortfall)
    return _pay(
        entry_id=entry_id,
        source_key=f"top_up:{command.submission_id}",
        kind=EntryKind.TOP_UP,
        worker_id=command.worker_id,
        region=command.region,
        task_id=command.task_id,
        platform_id=command.platform_id,
        task_type=command.task_type,
        amount_micros=shortfall,
        paid_seconds=0,
        source_event_id=command.source_event_id,
        posted_at=now,
    )


def onboarding_posting(
    command: PayForOnboarding, floor_micros_per_hour: int, entry_id: str, now: datetime
) -> Posting | None:
    """Pays an onboarding step's time at the floor, charged to the task type's platform;
    None when it took no time. Not tied to a task (`task_id` is empty)."""
    require_ids(
        onboarding_id=command.onboarding_id,
        worker_id=command.worker_id,
        platform_id=command.platform_id,
        region=command.region,
    )
    _require_text(task_type=command.task_type, source_event_id=command.source_event_id)
    amount_micros = floor_pay_micros(command.seconds, floor_micros_per_hour)
    if amount_micros == 0:
        return None
    require_amount("seconds", amount_micros)
    return _pay(
        entry_id=entry_id,
        source_key=f"onboarding:{command.onboarding_id}",
        kind=EntryKind.ONBOARDING,
        worker_id=command.worker_id,
        region=command.region,
        task_id="",
        platform_id=command.platform_id,
        task_type=command.task_type,
        amount_micros=amount_micros,
        paid_seconds=command.seconds,
        source_event_id=command.source_event_id,
        posted_at=now,
    )


def time_worked_posting(
    command: PayForTimeWorked, floor_micros_per_hour: int, entry_id: str, now: datetime
) -> Posting | None:
    """Pays the time worked on a lost lease at the floor; None when there is nothing to pay
    (no time worked), which is not an error."""
    require_ids(
        lease_id=command.lease_id,
        task_id=command.task_id,
        worker_id=command.worker_id,
        platform_id=command.platform_id,
        region=command.region,
    )
    _require_text(task_type=command.task_type, source_event_id=command.source_event_id)
    amount_micros = floor_pay_micros(command.worked_seconds, floor_micros_per_hour)
    if amount_micros == 0:
        return None
    require_amount("worked_seconds", amount_micros)
    return _pay(
        entry_id=entry_id,
        source_key=f"time_worked:{command.lease_id}",
        kind=EntryKind.TIME_WORKED,
        worker_id=command.worker_id,
        region=command.region,
        task_id=command.task_id,
        platform_id=command.platform_id,
        task_type=command.task_type,
        amount_micros=amount_micros,
        paid_seconds=command.worked_seconds,
        source_event_id=command.source_event_id,
        posted_at=now,
    )


def _pay(
    *,
    entry_id: str,
    source_key: str,
    kind: EntryKind,
    worker_id: str,
    region: str,
    task_id: str,
    platform_id: str,
    task_type: str,
    amount_micros: int,
    paid_seconds: int,
    source_event_id: str,
    posted_at: datetime,
) -> Posting:
    lines = transfer(
        platform_escrow(platform_id),
        AccountKind.PLATFORM_ESCROW,
        worker_payable(worker_id),
        AccountKind.WORKER_PAYABLE,
        amount_micros,
    )
    return Posting(
        entry_id=entry_id,
        source_key=source_key,
        kind=kind,
        worker_id=worker_id,
        region=region,
        task_id=task_id,
        platform_id=platform_id,
        task_type=task_type,
        amount_micros=amount_micros,
        paid_seconds=paid_seconds,
        source_event_id=source_event_id,
        posted_at=posted_at,
        lines=lines,
    )


def require_ids(**ids: str) -> None:
    for field, value in ids.items():
        problem = id_problem(value)
        if problem is not None:
            raise InvalidPostingError(field, problem)


def id_problem(value: str) -> str | None:
    """Why `value` cannot serve as an id, or None. PostgreSQL text cannot hold NUL, so an id
    with one would fail on every retry instead of being refused once."""
    if not value.strip():
        return "is required"
    if len(value) > MAX_ID_LENGTH:
        return f"is longer than {MAX_ID_LENGTH} characters"
    if "\x00" in value:
        return "contains a NUL character"
    return None


def _require_text(**texts: str) -> None:
    for field, value in texts.items():
        if "\x00" in value or len(value) > MAX_ID_LENGTH:
            raise InvalidPostingError(field, f"must be NUL-free and at most {MAX_ID_LENGTH} long")


def require_amount(field: str, amount_micros: int) -> None:
    if not 0 < amount_micros <= MAX_MICROS:
        raise InvalidPostingError(field, f"must pay between 1 and {MAX_MICROS} micros")
