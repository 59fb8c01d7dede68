"""A platform watching its released results, resuming from its last cursor after a break."""

import asyncio

import grpc

from fairtask.v1 import scoring_pb2, scoring_pb2_grpc
from fairtask_demo.load.registry import Registry
from fairtask_runtime.grpc.identity import Metadata

# Streams get a deadline like every call; resuming from the cursor makes the renewal lossless.
_STREAM_DEADLINE_S = 120.0
_MAX_BACKOFF_S = 5.0


async def watch_results(
    channel: grpc.aio.Channel, platform_id: str, credentials: Metadata, registry: Registry
) -> None:
    """Counts released results into `registry.released` until cancelled. Never raises otherwise."""
    stub = scoring_pb2_grpc.ResultsServiceStub(channel)
    metadata = credentials
    cursor = ""
    backoff_s = 0.5
    while True:
        call = stub.WatchResults(
            scoring_pb2.WatchResultsRequest(cursor=cursor),
            metadata=metadata,
            timeout=_STREAM_DEADLINE_S,
        )
        try:
            async for result in call:
                cursor = result.cursor or cursor
                registry.released.add(result.task_id)
                answer = result.answer.decode(errors="replace")
                if result.aggregate:
                    registry.aggregates[result.task_id] = (
                        answer,
                        result.answers,
                        result.confident,
                    )
                else:
                    registry.answers.setdefault(result.task_id, []).append(answer)
                backoff_s = 0.5
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                text = f"WatchResults({platform_id}): {error.code().name}: {error.details()}"
                if registry.note_problem(text):
                    print(f"  ! {text} (retrying from the last cursor)", flush=True)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, _MAX_BACKOFF_S)
            continue
        finally:
            call.cancel()
        # The server ended the stream cleanly; ask again from where it stopped.
        await asyncio.sleep(backoff_s)
