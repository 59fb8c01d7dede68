"""Domain errors as gRPC statuses: clear codes and field violations, never a stack trace."""

import grpc

from dispatcher.domain.errors import (
    AlreadyDoneError,
    BacklogFullError,
    BelowPayFloorError,
    ConflictError,
    EscrowUnavailableError,
    InsufficientEscrowError,
    InvalidInputError,
    NotFoundError,
    SubmissionsUnavailableError,
    TaskRecordsUnavailableError,
    TooManyRequestsError,
    Violation,
)
from fairtask_runtime.grpc.errors import (
    ESCROW_INSUFFICIENT,
    FieldViolation,
    bad_request_status,
    precondition_failed_status,
    resource_exhausted_status,
)

# ErrorInfo.reason of a task type priced below the pay floor; metadata has the minimum price.
BELOW_PAY_FLOOR = "PRICE_BELOW_PAY_FLOOR"

Context = grpc.aio.ServicerContext[object, object]


def status_code_of(error: Exception) -> grpc.StatusCode:
    match error:
        case InvalidInputError():
            return grpc.StatusCode.INVALID_ARGUMENT
        case NotFoundError():
            return grpc.StatusCode.NOT_FOUND
        case AlreadyDoneError():
            return grpc.StatusCode.ALREADY_EXISTS
        case ConflictError() | BelowPayFloorError() | InsufficientEscrowError():
            return grpc.StatusCode.FAILED_PRECONDITION
        case EscrowUnavailableError() | SubmissionsUnavailableError():
            return grpc.StatusCode.UNAVAILABLE
        case TaskRecordsUnavailableError():
            return grpc.StatusCode.UNAVAILABLE
        case BacklogFullError() | TooManyRequestsError():
            return grpc.StatusCode.RESOURCE_EXHAUSTED
    return grpc.StatusCode.INTERNAL


async def abort_with(context: Context, error: Exception) -> None:
    if isinstance(error, InvalidInputError):
        violations = [FieldViolation(v.field, v.problem) for v in error.violations]
        await context.abort_with_status(bad_request_status(violations))
    if isinstance(error, BacklogFullError):
        await context.abort_with_status(resource_exhausted_status(str(error), error.retry_after_s))
    if isinstance(error, BelowPayFloorError):
        await context.abort_with_status(
            precondition_failed_status(
                str(error),
                subject="task_type.price_micros",
                reason=BELOW_PAY_FLOOR,
                metadata={
                    "minimum_price_micros": str(error.minimum_price_micros),
                    "floor_micros_per_hour": str(error.floor_micros_per_hour),
                },
            )
        )
    if isinstance(error, InsufficientEscrowError):
        await context.abort_with_status(
            precondition_failed_status(
                str(error),
                subject="escrow",
                reason=ESCROW_INSUFFICIENT,
                metadata={
                    "available_micros": str(error.available_micros),
                    "needed_micros": str(error.needed_micros),
                },
            )
        )
    await context.abort(status_code_of(error), str(error))


def required(value: str, field: str) -> list[Violation]:
    return [] if value.strip() else [Violation(field, "is required")]
