"""A platform reviewing the work on its tasks as it arrives.

It approves most of it; a small, fixed share it rejects with a reason and an explanation but
keeps (so the worker is paid and the result released), as a platform that disagrees with an
answer yet uses it must. The share is picked by submission id, so a re-run decides the same.
"""

import asyncio
import zlib

import grpc

from fairtask.v1 import events_pb2, scoring_pb2, scoring_pb2_grpc
from fairtask_demo.load.registry import Registry
from fairtask_runtime.grpc.identity import Metadata

_IDLE_S = 0.5
_MAX_BACKOFF_S = 5.0
_REASONS = (
    events_pb2.REJECTION_REASON_INSTRUCTIONS_NOT_FOLLOWED,
    events_pb2.REJECTION_REASON_WRONG_ANSWER,
    events_pb2.REJECTION_REASON_INCOMPLETE,
)
_EXPLANATION = (
    "Our second annotator disagrees with this answer and the instructions' examples side "
    "with them; we keep the answer and pay for it, and you are welcome to appeal."
)


def _decision(submission_id: str, reject_percent: int) -> scoring_pb2.ReviewSubmissionRequest:
    spread = zlib.crc32(submission_id.encode())
    if spread % 100 >= reject_percent:
        return scoring_pb2.ReviewSubmissionRequest(
            submission_id=submission_id, approve=scoring_pb2.Approve()
        )
    return scoring_pb2.ReviewSubmissionRequest(
        submission_id=submission_id,
        reject=scoring_pb2.Reject(
            reason=_REASONS[spread % len(_REASONS)], explanation=_EXPLANATION, keep_result=True
        ),
    )


async def review_work(
    channel: grpc.aio.Channel,
    platform_id: str,
    credentials: Metadata,
    registry: Registry,
    reject_percent: int = 3,
) -> None:
    """Reviews the platform's pending work until cancelled. Never raises otherwise."""
    stub = scoring_pb2_grpc.ReviewServiceStub(channel)
    backoff_s = 0.5
    while True:
        try:
            page = await stub.ListPendingReviews(
                scoring_pb2.ListPendingReviewsRequest(page_size=200),
                metadata=credentials,
                timeout=10,
            )
            for review in page.reviews:
                try:
                    await stub.ReviewSubmission(
                        _decision(review.submission_id, reject_percent),
                        metadata=credentials,
                        timeout=10,
                    )
                except grpc.aio.AioRpcError as error:
                    # Decided meanwhile (a deadline, or the call before a lost answer).
                    if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                        raise
            backoff_s = 0.5
            if not page.reviews:
                await asyncio.sleep(_IDLE_S)
        except grpc.aio.AioRpcError as error:
            text = f"reviews({platform_id}): {error.code().name}: {error.details()}"
            if registry.note_problem(text):
                print(f"  ! {text} (retrying)", flush=True)
            await asyncio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, _MAX_BACKOFF_S)
