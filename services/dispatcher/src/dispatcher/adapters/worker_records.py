"""The worker's statement (payroll) and reviews (scoring) over gRPC, for the worker page.

The worker's token is passed on unchanged: payroll and scoring authenticate it themselves and
answer only about that worker, so the dispatcher grants nothing it could get wrong.
"""

from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from dispatcher.domain.errors import PeerRefusedError
from fairtask.v1 import payroll_pb2, payroll_pb2_grpc, scoring_pb2, scoring_pb2_grpc
from fairtask_runtime.grpc.identity import bearer


def _json(message: Message) -> dict[str, Any]:
    return MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        unquote_int64_if_possible=True,
    )


class GrpcWorkerRecords:
    def __init__(self, payroll_target: str, scoring_target: str, timeout_s: float = 5.0) -> None:
        self._payroll_channel = grpc.aio.insecure_channel(payroll_target)
        self._scoring_channel = grpc.aio.insecure_channel(scoring_target)
        self._payroll = payroll_pb2_grpc.PayrollServiceStub(self._payroll_channel)
        self._scoring = scoring_pb2_grpc.WorkerReviewServiceStub(self._scoring_channel)
        self._timeout_s = timeout_s

    async def statement(self, token: str, worker_id: str) -> dict[str, Any]:
        request = payroll_pb2.GetStatementRequest(worker_id=worker_id)
        try:
            answer = await self._payroll.GetStatement(
                request, metadata=bearer(token), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:  # never paid yet: an empty one
                return _json(payroll_pb2.GetStatementResponse(worker_id=worker_id))
            raise _refused(error) from error
        return _json(answer)

    async def reviews(self, token: str, page_token: str) -> dict[str, Any]:
        request = scoring_pb2.ListMyReviewsRequest(page_size=50, page_token=page_token)
        try:
            answer = await self._scoring.ListMyReviews(
                request, metadata=bearer(token), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as error:
            raise _refused(error) from error
        page = _json(answer)
        for review in page.get("reviews", []):
            review.pop("answer", None)  # the worker's own work, not needed on the page
        return page

    async def appeal(self, token: str, submission_id: str, statement: str) -> dict[str, Any]:
        request = scoring_pb2.AppealRejectionRequest(
            submission_id=submission_id, statement=statement
        )
        try:
            answer = await self._scoring.AppealRejection(
                request, metadata=bearer(token), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as error:
            raise _refused(error) from error
        review = _json(answer.review)
        review.pop("answer", None)
        return review

    async def close(self) -> None:
        await self._payroll_channel.close()
        await self._scoring_channel.close()


def _refused(error: grpc.aio.AioRpcError) -> PeerRefusedError:
    code = error.code()
    if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN):
        return PeerRefusedError("UNAVAILABLE", "not available just now; try again")
    return PeerRefusedError(code.name, error.details() or code.name)
