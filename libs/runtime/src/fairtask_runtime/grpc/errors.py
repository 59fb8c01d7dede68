"""INVALID_ARGUMENT and friends with google.rpc.BadRequest field violations."""

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

_FieldViolationPb = error_details_pb2.BadRequest.FieldViolation


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
