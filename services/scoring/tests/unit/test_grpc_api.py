"""ResultsService over a real gRPC channel, backed by the in-memory fakes."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import grpc
import pytest

from fairtask.v1 import scoring_pb2, scoring_pb2_grpc
from fairtask_runtime.answers import answer_task_id
from fairtask_runtime.api_keys import MemoryPlatformKeys
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.grpc.errors import field_violations_of
from fairtask_runtime.grpc.identity import Metadata, PlatformAuthenticator, bearer
from scoring.adapters.memory import MemoryPorts, MemoryResultLog
from scoring.domain.errors import StoreUnavailableError
from scoring.domain.model import ResultEntry, Submission, TaskRecord
from scoring.domain.overlap import OverlapPolicy
from scoring.entrypoints.grpc_api import ResultsServicer
from scoring.service_layer.handlers import RememberTask, ScoreSubmission, ScoringHandlers

if TYPE_CHECKING:
    from fairtask.v1.scoring_pb2_grpc import ResultsServiceAsyncStub as Stub


KEYS = MemoryPlatformKeys()


@asynccontextmanager
async def serving(handlers: ScoringHandlers) -> AsyncIterator["Stub"]:
    server = grpc.aio.server()
    servicer = ResultsServicer(handlers, PlatformAuthenticator(KEYS))
    scoring_pb2_grpc.add_ResultsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield scoring_pb2_grpc.ResultsServiceStub(channel)
    finally:
        await server.stop(0)


@pytest.fixture
async def stub(handlers: ScoringHandlers) -> AsyncIterator["Stub"]:
    async with serving(handlers) as stub:
        yield stub


async def _release(handlers: ScoringHandlers, platform_id: str, task_id: str) -> None:
    task = TaskRecord(task_id, platform_id, f"client-{task_id}", "label")
    await handlers.remember_task(RememberTask(task))
    await handlers.score_submission(
        ScoreSubmission(Submission(f"s-{task_id}", task_id, "w-9", f"answer {task_id}".encode()))
    )
    await handlers.reviews.approve(platform_id, f"s-{task_id}")


async def _as(platform_id: str) -> Metadata:
    return bearer((await KEYS.issue(platform_id)).key)


async def test_results_stream_from_a_cursor_for_the_calling_platform_only(
    stub: "Stub", handlers: ScoringHandlers, clock: FakeClock
) -> None:
    await _release(handlers, "p-1", "t-1")
    await _release(handlers, "p-2", "t-2")
    await _release(handlers, "p-1", "t-3")

    call = stub.WatchResults(scoring_pb2.WatchResultsRequest(), metadata=await _as("p-1"))
    first = await asyncio.wait_for(call.read(), 2)
    assert isinstance(first, scoring_pb2.WatchResultsResponse)
    assert (first.task_id, first.client_task_id, first.task_type) == ("t-1", "client-t-1", "label")
    assert (first.answer, first.worker_id) == (b"answer t-1", "w-9")
    assert first.released_at.ToDatetime().timestamp() == clock.now().timestamp()
    call.cancel()

    resumed = stub.WatchResults(
        scoring_pb2.WatchResultsRequest(cursor=first.cursor), metadata=await _as("p-1")
    )
    second = await asyncio.wait_for(resumed.read(), 2)
    assert isinstance(second, scoring_pb2.WatchResultsResponse)
    assert second.task_id == "t-3"
    resumed.cancel()


async def test_a_malformed_cursor_is_an_invalid_argument_on_the_cursor(stub: "Stub") -> None:
    call = stub.WatchResults(
        scoring_pb2.WatchResultsRequest(cursor="yesterday"), metadata=await _as("p-1")
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await asyncio.wait_for(call.read(), 2)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(raised.value)] == ["cursor"]


@pytest.mark.parametrize("key", ["", "ftk_0123456789abcdef_" + "x" * 43])
async def test_a_caller_without_a_valid_key_is_unauthenticated(stub: "Stub", key: str) -> None:
    call = stub.WatchResults(scoring_pb2.WatchResultsRequest(), metadata=bearer(key) if key else ())
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await asyncio.wait_for(call.read(), 2)
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED


class _UnreachableLog(MemoryResultLog):
    async def read(
        self, platform_id: str, after: str, limit: int, block_s: float
    ) -> list[ResultEntry]:
        raise StoreUnavailableError("connection refused")


async def test_an_unreachable_store_is_unavailable_not_a_crash(clock: FakeClock) -> None:
    ports = MemoryPorts(results=_UnreachableLog())
    handlers = ports.handlers(clock)
    async with serving(handlers) as stub:
        call = stub.WatchResults(scoring_pb2.WatchResultsRequest(), metadata=await _as("p-1"))
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await asyncio.wait_for(call.read(), 2)
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_an_aggregate_streams_after_its_answers_with_its_own_fields(
    stub: "Stub", handlers: ScoringHandlers
) -> None:
    policy = OverlapPolicy(min_answers=2, max_answers=3, confidence_target=0.8)
    task = TaskRecord("t-many", "p-agg", "client-many", "label", overlap=policy)
    copy = TaskRecord(
        answer_task_id("t-many", 2),
        "p-agg",
        "client-many",
        "label",
        answer_of="t-many",
        answer_number=2,
    )
    for record, worker in ((task, "w-1"), (copy, "w-2")):
        await handlers.remember_task(RememberTask(record))
        await handlers.score_submission(
            ScoreSubmission(Submission(f"s-{worker}", record.task_id, worker, b"Yes"))
        )
        await handlers.reviews.approve("p-agg", f"s-{worker}")

    call = stub.WatchResults(scoring_pb2.WatchResultsRequest(), metadata=await _as("p-agg"))
    entries = [await asyncio.wait_for(call.read(), 2) for _ in range(3)]
    call.cancel()
    answers, aggregate = entries[:2], entries[2]
    assert all(isinstance(e, scoring_pb2.WatchResultsResponse) for e in entries)
    # Each answer names the platform's task, whichever copy carried it.
    assert [(a.task_id, a.worker_id, a.aggregate) for a in answers] == [  # type: ignore[union-attr]
        ("t-many", "w-1", False),
        ("t-many", "w-2", False),
    ]
    assert isinstance(aggregate, scoring_pb2.WatchResultsResponse)
    assert (aggregate.task_id, aggregate.client_task_id, aggregate.worker_id) == (
        "t-many",
        "client-many",
        "",
    )
    assert (aggregate.aggregate, aggregate.answer, aggregate.answers, aggregate.confident) == (
        True,
        b"Yes",
        2,
        True,
    )
    assert aggregate.confidence == pytest.approx(0.49 / 0.58)
