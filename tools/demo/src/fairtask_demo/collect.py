"""Reading the outcome back through the public APIs: task states, statements, the ledger."""

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TypeVar

import grpc

from fairtask.v1 import (
    dispatcher_pb2,
    dispatcher_pb2_grpc,
    events_pb2,
    payroll_pb2,
    payroll_pb2_grpc,
)
from fairtask_demo.model import (
    LOST,
    FinalTask,
    Ledger,
    LedgerRegion,
    Statement,
    StatementLine,
    SubmittedTask,
)
from fairtask_runtime.grpc.errors import retry_delay_of
from fairtask_runtime.grpc.identity import Metadata

T = TypeVar("T")
_CALL_TIMEOUT_S = 5.0
_ATTEMPTS = 3
# How long one read may keep waiting out rate limits.
_PATIENCE_S = 120.0
_CONCURRENCY = 32
_TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """Reads are idempotent, so transient failures are retried a few times, then re-raised.
    Being throttled is not failing: past a rate limit the call waits as long as the service
    asks, however often, for up to `_PATIENCE_S` in all."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _PATIENCE_S
    failures = 0
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and loop.time() < deadline:
                await asyncio.sleep(retry_delay_of(error) or 1.0)
                continue
            failures += 1
            if error.code() not in _TRANSIENT or failures >= _ATTEMPTS:
                raise
            await asyncio.sleep(0.2 * failures)


async def task_states(
    channel: grpc.aio.Channel,
    tasks: Iterable[SubmittedTask],
    credentials: Mapping[str, Metadata],
) -> dict[str, FinalTask]:
    """GetTask for each task, asked with its platform's credentials. NOT_FOUND is LOST; a task
    whose state could not be read at all is left out (the report counts it lost too, since the
    dispatcher could not vouch for it)."""
    stub = dispatcher_pb2_grpc.PlatformServiceStub(channel)
    gate = asyncio.Semaphore(_CONCURRENCY)
    found: dict[str, FinalTask] = {}
    unreachable = asyncio.Event()

    async def one(task: SubmittedTask) -> None:
        request = dispatcher_pb2.GetTaskRequest(task_id=task.task_id)
        metadata = credentials[task.platform]
        async with gate:
            if unreachable.is_set():
                return  # a dead dispatcher would make each of thousands of calls retry
            try:
                answer = await _retrying(
                    lambda: stub.GetTask(request, metadata=metadata, timeout=_CALL_TIMEOUT_S)
                )
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    found[task.task_id] = FinalTask(LOST)
                elif error.code() == grpc.StatusCode.UNAVAILABLE:
                    unreachable.set()
                return
        state = dispatcher_pb2.TaskState.Name(answer.state).removeprefix("TASK_STATE_")
        found[task.task_id] = FinalTask(LOST if state == "UNSPECIFIED" else state, answer.worker_id)

    await asyncio.gather(*(one(t) for t in tasks))
    return found


async def statements(
    channel: grpc.aio.Channel, worker_ids: Iterable[str], operator: Metadata
) -> dict[str, Statement]:
    """GetStatement per worker, asked with an operator's key; a worker payroll could not
    answer for is left out."""
    stub = payroll_pb2_grpc.PayrollServiceStub(channel)
    gate = asyncio.Semaphore(_CONCURRENCY)
    found: dict[str, Statement] = {}
    unreachable = asyncio.Event()

    async def one(worker_id: str) -> None:
        request = payroll_pb2.GetStatementRequest(worker_id=worker_id)
        async with gate:
            if unreachable.is_set():
                return
            try:
                answer = await _retrying(
                    lambda: stub.GetStatement(request, metadata=operator, timeout=_CALL_TIMEOUT_S)
                )
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.UNAVAILABLE:
                    unreachable.set()
                return
        found[worker_id] = _statement_of(answer)

    await asyncio.gather(*(one(w) for w in worker_ids))
    return found


def _statement_of(answer: payroll_pb2.GetStatementResponse) -> Statement:
    return Statement(
        worker_id=answer.worker_id,
        earned_micros=answer.balance_micros + answer.paid_out_micros,
        paid_seconds=answer.paid_seconds,
        tasks_paid=answer.tasks_paid,
        lines=tuple(
            StatementLine(
                task_id=line.task_id,
                kind=events_pb2.EntryKind.Name(line.kind).removeprefix("ENTRY_KIND_"),
                amount_micros=line.amount_micros,
                paid_seconds=line.paid_seconds,
            )
            for line in answer.lines
        ),
    )


async def ledger_summary(channel: grpc.aio.Channel, operator: Metadata) -> Ledger | None:
    """The whole ledger's health (an operator's read), or None if payroll cannot answer."""
    stub = payroll_pb2_grpc.PayrollServiceStub(channel)
    try:
        answer = await _retrying(
            lambda: stub.GetLedgerSummary(
                payroll_pb2.GetLedgerSummaryRequest(), metadata=operator, timeout=_CALL_TIMEOUT_S
            )
        )
    except grpc.aio.AioRpcError:
        return None
    return Ledger(
        balanced=answer.balanced,
        postings=answer.postings,
        total_debits_micros=answer.total_debits_micros,
        total_credits_micros=answer.total_credits_micros,
        regions=tuple(
            LedgerRegion(r.region, r.earnings_micros, r.paid_seconds, r.tasks_paid)
            for r in answer.regions
        ),
    )


async def escrows(
    channel: grpc.aio.Channel, operator: Metadata, platform_ids: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Each platform's escrow (an operator's read); a platform payroll cannot answer for is
    left out."""
    stub = payroll_pb2_grpc.EscrowServiceStub(channel)
    found: dict[str, dict[str, int]] = {}
    for platform_id in platform_ids:
        request = payroll_pb2.GetEscrowRequest(platform_id=platform_id)
        try:
            answer = await _retrying(
                partial(stub.GetEscrow, request, metadata=operator, timeout=_CALL_TIMEOUT_S)
            )
        except grpc.aio.AioRpcError:
            continue
        e = answer.escrow
        found[platform_id] = {
            "deposited_micros": e.deposited_micros,
            "spent_micros": e.spent_micros,
            "held_micros": e.held_micros,
            "withdrawn_micros": e.withdrawn_micros,
            "available_micros": e.available_micros,
        }
    return found


def tasks_paid(found: Mapping[str, Statement]) -> set[str]:
    """Ids of the tasks whose work was paid (a further answer's copy under its own id)."""
    return {
        line.task_id
        for statement in found.values()
        for line in statement.lines
        if line.kind == "TASK_PAY"
    }
