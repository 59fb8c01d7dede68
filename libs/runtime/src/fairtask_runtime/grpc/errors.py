"""Rich gRPC errors: INVALID_ARGUMENT with google.rpc.BadRequest field violations, and
RESOURCE_EXHAUSTED with a google.rpc.RetryInfo hint (plus a `retry-after` trailer in seconds for
clients that do not decode rich statuses)."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

_FieldViolationPb = error_details_pb2.BadRequest.FieldViolation
RETRY_AFTER = "retry-after"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


def bad_request_status(
    violations: Sequence[FieldViolation], message: str = "invalid request"
) -> grpc.Status:
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in violations
            ]
        )
    )
    summary = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
    status = status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT, message=f"{message}: {summary}", details=[detail]
    )
    result: grpc.Status = rpc_status.to_status(status)
    return result


def field_violations_of(error: grpc.aio.AioRpcError | grpc.RpcError) -> list[FieldViolation]:
    """Client side: the field violations carried by an INVALID_ARGUMENT error."""
    status = rpc_status.from_call(error)
    found: list[FieldViolation] = []
    if status is None:
        return found
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            request = error_details_pb2.BadRequest()
            detail.Unpack(request)
            found += [FieldViolation(v.field, v.description) for v in request.field_violations]
    return found


def resource_exhausted_status(message: str, retry_after_s: float) -> grpc.Status:
    """RESOURCE_EXHAUSTED telling the client how long to wait before trying again."""
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(round(retry_after_s * 1000))
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=message, details=[detail])
    rich: grpc.Status = rpc_status.to_status(status)
    return _Status(
        rich.code,
        rich.details,
        (*rich.trailing_metadata, (RETRY_AFTER, str(math.ceil(retry_after_s)))),
    )


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def retry_delay_of(error: grpc.aio.AioRpcError | grpc.RpcError) -> float | None:
    """Client side: the seconds a RESOURCE_EXHAUSTED error asks to wait, if it says."""
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToTimedelta().total_seconds())
    return None


ERROR_DOMAIN = "fairtask.dev"
# ErrorInfo.reason when a platform's escrow does not cover new tasks; metadata has
# available_micros and needed_micros. Payroll says it, the dispatcher passes it on.
ESCROW_INSUFFICIENT = "ESCROW_INSUFFICIENT"


def precondition_failed_status(
    message: str, *, subject: str, reason: str, metadata: Mapping[str, str]
) -> grpc.Status:
    """FAILED_PRECONDITION: the request is well formed but a rule refuses it. Carries a
    google.rpc.PreconditionFailure naming the rule and an ErrorInfo whose metadata tells the
    client what would pass (e.g. the minimum price)."""
    failure = any_pb2.Any()
    failure.Pack(
        error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=reason, subject=subject, description=message
                )
            ]
        )
    )
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata))
    status = status_pb2.Status(
        code=code_pb2.FAILED_PRECONDITION, message=message, details=[failure, info]
    )
    result: grpc.Status = rpc_status.to_status(status)
    return result


def error_info_of(
    error: grpc.aio.AioRpcError | grpc.RpcError,
) -> error_details_pb2.ErrorInfo | None:
    """Client side: the google.rpc.ErrorInfo an error carries, if any."""
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None
