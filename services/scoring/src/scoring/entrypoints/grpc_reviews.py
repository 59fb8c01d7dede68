"""fairtask.v1.ReviewService (platforms) and WorkerReviewService (workers).

A platform acts only on reviews of its own tasks and a worker only on reviews of their own
work; anyone else's is NOT_FOUND, exactly like a submission that does not exist.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from fairtask.v1 import scoring_pb2, scoring_pb2_grpc
from fairtask_runtime.grpc.callers import CallerAuthenticator, CallerKind
from fairtask_runtime.grpc.errors import (
    FieldViolation,
    bad_request_status,
    precondition_failed_status,
)
from fairtask_runtime.grpc.identity import PlatformAuthenticator
from scoring.adapters.codec import reason_from_pb, review_to_pb
from scoring.domain.errors import (
    ReviewConflictError,
    ReviewNotFoundError,
    ReviewRuleError,
)
from scoring.domain.reviews import Review
from scoring.service_layer.reviews import Page, ReviewHandlers

Context = grpc.aio.ServicerContext[object, object]
T = TypeVar("T")


async def _answer(context: Context, call: Callable[[], Awaitable[T]]) -> T:
    """Runs a handler call, turning what it refuses into the matching status."""
    try:
        return await call()
    except ReviewRuleError as error:
        await context.abort_with_status(
            bad_request_status([FieldViolation(error.field, str(error))])
        )
    except ReviewNotFoundError:
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such submission under review")
    except ReviewConflictError as error:
        await context.abort_with_status(
            precondition_failed_status(
                str(error), subject="review", reason="REVIEW_STATE", metadata={}
            )
        )
    raise AssertionError("abort returns only by raising")


def _reviews(page: Page) -> tuple[list[scoring_pb2.Review], str]:
    return [review_to_pb(r) for r in page.reviews], page.next_token


class ReviewServicer(scoring_pb2_grpc.ReviewServiceServicer):
    def __init__(self, handlers: ReviewHandlers, platforms: PlatformAuthenticator) -> None:
        self._handlers = handlers
        self._platforms = platforms

    async def ListPendingReviews(
        self, request: scoring_pb2.ListPendingReviewsRequest, context: Context
    ) -> scoring_pb2.ListPendingReviewsResponse:
        caller = await self._platforms.platform_id(context)
        page = await _answer(
            context,
            lambda: self._handlers.pending(caller, request.page_token, request.page_size),
        )
        reviews, token = _reviews(page)
        return scoring_pb2.ListPendingReviewsResponse(reviews=reviews, next_page_token=token)

    async def ListOpenAppeals(
        self, request: scoring_pb2.ListOpenAppealsRequest, context: Context
    ) -> scoring_pb2.ListOpenAppealsResponse:
        caller = await self._platforms.platform_id(context)
        page = await _answer(
            context,
            lambda: self._handlers.open_appeals(caller, request.page_token, request.page_size),
        )
        reviews, token = _reviews(page)
        return scoring_pb2.ListOpenAppealsResponse(reviews=reviews, next_page_token=token)

    async def ReviewSubmission(
        self, request: scoring_pb2.ReviewSubmissionRequest, context: Context
    ) -> scoring_pb2.ReviewSubmissionResponse:
        caller = await self._platforms.platform_id(context)
        decision = request.WhichOneof("decision")
        call: Callable[[], Awaitable[Review]]
        if decision == "approve":

            def call() -> Awaitable[Review]:
                return self._handlers.approve(caller, request.submission_id)

        elif decision == "reject":
            reject = request.reject

            def call() -> Awaitable[Review]:
                return self._handlers.reject(
                    caller,
                    request.submission_id,
                    reason_from_pb(reject.reason),
                    reject.explanation,
                    reject.keep_result,
                )

        else:
            await context.abort_with_status(
                bad_request_status([FieldViolation("decision", "approve or reject")])
            )
            raise AssertionError("abort returns only by raising")
        review = await _answer(context, call)
        return scoring_pb2.ReviewSubmissionResponse(review=review_to_pb(review))

    async def AnswerAppeal(
        self, request: scoring_pb2.AnswerAppealRequest, context: Context
    ) -> scoring_pb2.AnswerAppealResponse:
        caller = await self._platforms.platform_id(context)
        review = await _answer(
            context,
            lambda: self._handlers.answer_appeal(
                caller, request.submission_id, request.grant, request.explanation
            ),
        )
        return scoring_pb2.AnswerAppealResponse(review=review_to_pb(review))


class WorkerReviewServicer(scoring_pb2_grpc.WorkerReviewServiceServicer):
    def __init__(self, handlers: ReviewHandlers, callers: CallerAuthenticator) -> None:
        self._handlers = handlers
        self._callers = callers

    async def _worker(self, context: Context) -> str:
        caller = await self._callers.caller(context)
        if caller.kind is not CallerKind.WORKER:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "sign in with your worker token")
        return caller.id

    async def ListMyReviews(
        self, request: scoring_pb2.ListMyReviewsRequest, context: Context
    ) -> scoring_pb2.ListMyReviewsResponse:
        worker = await self._worker(context)
        page = await _answer(
            context,
            lambda: self._handlers.of_worker(worker, request.page_token, request.page_size),
        )
        reviews, token = _reviews(page)
        return scoring_pb2.ListMyReviewsResponse(reviews=reviews, next_page_token=token)

    async def AppealRejection(
        self, request: scoring_pb2.AppealRejectionRequest, context: Context
    ) -> scoring_pb2.AppealRejectionResponse:
        worker = await self._worker(context)
        if not request.submission_id:
            await context.abort_with_status(
                bad_request_status([FieldViolation("submission_id", "name the submission")])
            )
        review = await _answer(
            context,
            lambda: self._handlers.appeal(worker, request.submission_id, request.statement),
        )
        return scoring_pb2.AppealRejectionResponse(review=review_to_pb(review))
