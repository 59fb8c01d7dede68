"""Domain errors: each carries what a client needs to correct its request."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    field: str
    problem: str


class InvalidInputError(Exception):
    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.problem}" for v in violations))
        self.violations = violations


class NotFoundError(Exception):
    """The thing does not exist, or belongs to someone else (callers cannot tell which)."""


class ConflictError(Exception):
    """The request is valid but the current state does not allow it."""


class AlreadyDoneError(Exception):
    """The request repeats something that already happened (e.g. a second submit)."""


class TooManyRequestsError(Exception):
    """The caller sent more than its rate allows; nothing was done, and the same request may be
    sent again after `retry_after_s`."""

    def __init__(self, limit: str, retry_after_s: float) -> None:
        super().__init__(f"more than {limit} messages; retry in {retry_after_s:.2f} s")
        self.retry_after_s = retry_after_s


class BacklogFullError(Exception):
    """The platform already has as many tasks waiting as it may; nothing of the call was
    accepted, and the same call may be repeated after `retry_after_s`."""

    def __init__(self, waiting: int, bound: int, retry_after_s: float) -> None:
        super().__init__(
            f"{waiting} of your tasks are waiting to be offered and at most {bound} may wait; "
            f"nothing of this batch was accepted, retry in {retry_after_s:g} s"
        )
        self.waiting = waiting
        self.bound = bound
        self.retry_after_s = retry_after_s


class BelowPayFloorError(Exception):
    """A task type's price cannot pay the hourly floor for its estimated median effort.
    Nothing was stored; the same definition at `minimum_price_micros` or more is accepted."""

    def __init__(self, price_micros: int, minimum_price_micros: int, floor_micros_per_hour: int):
        super().__init__(
            f"task_type.price_micros {price_micros} pays less than the floor of "
            f"{floor_micros_per_hour} micro-dollars an hour at the estimated effort; "
            f"the minimum price is {minimum_price_micros}"
        )
        self.price_micros = price_micros
        self.minimum_price_micros = minimum_price_micros
        self.floor_micros_per_hour = floor_micros_per_hour


class InsufficientEscrowError(Exception):
    """The platform's escrow does not cover the prices of the new tasks; nothing was
    accepted. Depositing at least the difference makes the same call succeed."""

    def __init__(self, available_micros: int, needed_micros: int) -> None:
        super().__init__(
            f"escrow has {available_micros} micro-dollars available and these tasks need "
            f"{needed_micros}: deposit funds before submitting them"
        )
        self.available_micros = available_micros
        self.needed_micros = needed_micros


class EscrowUnavailableError(Exception):
    """Payroll, which keeps the escrow, cannot be asked right now; nothing was accepted."""


class TaskRecordsUnavailableError(Exception):
    """What became of a task Redis no longer keeps is in PostgreSQL, which cannot be reached
    right now; retrying the call is safe."""

    def __init__(self, reason: str) -> None:
        super().__init__("the record of finished tasks cannot be reached right now: retry the call")
        self.reason = reason


class SubmissionsUnavailableError(Exception):
    """The record of the client task ids platforms have used (PostgreSQL) cannot be reached
    right now. Retrying the call is safe: submitting is idempotent. `reason` is for the logs;
    the platform is told only what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "the record of submitted tasks cannot be reached right now: retry the call, "
            "submitting is idempotent"
        )
        self.reason = reason


class PeerRefusedError(Exception):
    """Payroll or scoring refused, or could not answer, a call made for a worker: `code` is
    the gRPC status name they gave, passed on to the worker as is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
