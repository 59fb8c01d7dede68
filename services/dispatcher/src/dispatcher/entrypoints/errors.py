"""Domain errors as gRPC statuses: clear codes and field violations, never a stack trace."""

import grpc

from dispatcher.domain.errors import (
    AlreadyDoneError,
    BacklogFullError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    Violation,
)
from fairtask_runtime.grpc.errors import (
    FieldViolation,
    bad_request_status,
    resource_exhausted_status,
)

Context = grpc.aio.ServicerContext[object, object]


def status_code_of(error: Exception) -> grpc.StatusCode:
    match error:
        case InvalidInputError():
            return grpc.StatusCode.INVALID_ARGUMENT
        case NotFoundError():
            return grpc.StatusCode.NOT_FOUND
        case AlreadyDoneError():
            return grpc.StatusCode.ALREADY_EXISTS
        case ConflictError():
            return grpc.StatusCode.FAILED_PRECONDITION
        case BacklogFullError():
            return grpc.StatusCode.RESOURCE_EXHAUSTED
    return grpc.StatusCode.INTERNAL


async def abort_with(context: Context, error: Exception) -> None:
    if isinstance(error, InvalidInputError):
        violations = [FieldViolation(v.field, v.problem) for v in error.violations]
        await context.abort_with_status(bad_request_status(violations))
    if isinstance(error, BacklogFullError):
        await context.abort_with_status(resource_exhausted_status(str(error), error.retry_after_s))
    await context.abort(status_code_of(error), str(error))


def required(value: str, field: str) -> list[Violation]:
    return [] if value.strip() else [Violation(field, "is required")]
