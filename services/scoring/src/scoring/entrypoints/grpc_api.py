"""fairtask.v1.ResultsService: a platform streams its released results from a cursor."""

from collections.abc import AsyncIterator

import grpc

from fairtask.v1 import scoring_pb2, scoring_pb2_grpc
from fairtask_runtime.grpc.errors import FieldViolation, bad_request_status
from fairtask_runtime.grpc.identity import PlatformAuthenticator
from scoring.adapters.codec import entry_to_pb
from scoring.domain.errors import InvalidCursorError, StoreUnavailableError
from scoring.service_layer.handlers import ScoringHandlers, WatchResults

Context = grpc.aio.ServicerContext[object, object]


class ResultsServicer(scoring_pb2_grpc.ResultsServiceServicer):
    def __init__(self, handlers: ScoringHandlers, platforms: PlatformAuthenticator) -> None:
        self._handlers = handlers
        self._platforms = platforms

    async def WatchResults(
        self, request: scoring_pb2.WatchResultsRequest, context: Context
    ) -> AsyncIterator[scoring_pb2.WatchResultsResponse]:
        # Only the caller's own results: the stream read is keyed by the verified platform.
        caller = await self._platforms.platform_id(context)
        try:
            results = self._handlers.watch_results(WatchResults(caller, request.cursor))
        except InvalidCursorError as error:
            await context.abort_with_status(
                bad_request_status([FieldViolation("cursor", str(error))])
            )
            return
        try:
            # Runs until the client cancels (or the server stops): grpc cancels this
            # coroutine, which interrupts the blocking read inside the iterator.
            async for entry in results:
                # Asked again per result (answered from the cache), so a key revoked while its
                # stream is open stops receiving within the cache time.
                await self._platforms.platform_id(context)
                yield entry_to_pb(entry)
        except StoreUnavailableError:
            # Nothing is lost: the client resumes from the last cursor it received.
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "results are unavailable; retry from your last cursor"
            )
