"""PayrollService over a real loopback gRPC server, backed by in-memory fakes."""

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import pytest

from fairtask.v1 import events_pb2, payroll_pb2, payroll_pb2_grpc
from fairtask_runtime.grpc.errors import field_violations_of
from fairtask_runtime.grpc.sample_callers import Credentials
from fairtask_runtime.grpc.server import GrpcServer
from payroll.adapters.memory import MemoryLedger
from payroll.domain.commands import PayForTask, PayForTimeWorked
from payroll.entrypoints.grpc_api import SERVICE_NAME, PayrollServicer, register
from payroll.service_layer.handlers import PayrollHandlers

DEADLINE_S = 5.0

if TYPE_CHECKING:
    # Exists only in the stubs: what PayrollServiceStub(aio_channel) returns.
    from fairtask.v1.payroll_pb2_grpc import PayrollServiceAsyncStub as Stub


@pytest.fixture
async def stub(handlers: PayrollHandlers, credentials: Credentials) -> AsyncIterator["Stub"]:
    server = GrpcServer([SERVICE_NAME], [register(PayrollServicer(handlers, credentials.callers))])
    port = await server.start("127.0.0.1", 0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield payroll_pb2_grpc.PayrollServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(0)


async def pay(handlers: PayrollHandlers) -> None:
    await handlers.pay_for_task(
        PayForTask("sub-1", "task-1", "w-1", "ke", "lab-a", "bbox", 400_000, 90, "evt-1")
    )
    await handlers.pay_for_time_worked(
        PayForTimeWorked("lease-2", "task-2", "w-1", "ke", "lab-a", "bbox", 900, "evt-2")
    )
    await handlers.pay_for_task(
        PayForTask("sub-3", "task-3", "w-2", "ph", "lab-a", "bbox", 500_000, 100, "evt-3")
    )


@pytest.mark.parametrize(
    ("worker_id", "description"),
    [
        ("", "is required"),
        (" ", "is required"),
        ("w" * 201, "is longer"),
        ("w\x00", "contains a NUL"),
    ],
)
async def test_statement_needs_a_worker_id(
    stub: "Stub", credentials: Credentials, worker_id: str, description: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetStatement(
            payroll_pb2.GetStatementRequest(worker_id=worker_id),
            metadata=credentials.operator,
            timeout=DEADLINE_S,
        )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    [violation] = field_violations_of(caught.value)
    assert violation.field == "worker_id"
    assert violation.description.startswith(description)


async def test_statement_of_an_unknown_worker_is_not_found(
    stub: "Stub", credentials: Credentials
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetStatement(
            payroll_pb2.GetStatementRequest(worker_id="w-9"),
            metadata=credentials.operator,
            timeout=DEADLINE_S,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_statement_lists_and_totals_the_workers_pay(
    stub: "Stub", handlers: PayrollHandlers, credentials: Credentials
) -> None:
    await pay(handlers)

    response = await stub.GetStatement(
        payroll_pb2.GetStatementRequest(worker_id="w-1"),
        metadata=credentials.workers["w-1"],
        timeout=DEADLINE_S,
    )

    assert response.worker_id == "w-1"
    assert [
        (line.kind, line.amount_micros, line.paid_seconds, line.task_id) for line in response.lines
    ] == [
        (events_pb2.ENTRY_KIND_TASK_PAY, 400_000, 90, "task-1"),
        (events_pb2.ENTRY_KIND_TIME_WORKED, 3_000_000, 900, "task-2"),
    ]
    assert all(line.entry_id and line.posted_at.seconds > 0 for line in response.lines)
    assert response.balance_micros == 3_400_000
    assert response.tasks_paid == 1
    assert response.paid_seconds == 990


async def test_ledger_summary_is_balanced_with_earnings_by_region(
    stub: "Stub", handlers: PayrollHandlers, credentials: Credentials
) -> None:
    await pay(handlers)

    summary = await stub.GetLedgerSummary(
        payroll_pb2.GetLedgerSummaryRequest(), metadata=credentials.operator, timeout=DEADLINE_S
    )

    assert summary.balanced
    assert summary.postings == 3
    assert summary.total_debits_micros == summary.total_credits_micros == 3_900_000
    assert [
        (r.region, r.earnings_micros, r.paid_seconds, r.tasks_paid) for r in summary.regions
    ] == [("ke", 3_400_000, 990, 1), ("ph", 500_000, 100, 1)]


async def test_an_unreachable_ledger_is_unavailable(
    stub: "Stub", ledger: MemoryLedger, credentials: Credentials
) -> None:
    ledger.unavailable = True
    operator = credentials.operator
    for call in (
        stub.GetStatement(
            payroll_pb2.GetStatementRequest(worker_id="w-1"), metadata=operator, timeout=DEADLINE_S
        ),
        stub.GetLedgerSummary(
            payroll_pb2.GetLedgerSummaryRequest(), metadata=operator, timeout=DEADLINE_S
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_worker_reads_only_their_own_statement(
    stub: "Stub", handlers: PayrollHandlers, credentials: Credentials
) -> None:
    await pay(handlers)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetStatement(
            payroll_pb2.GetStatementRequest(worker_id="w-1"),
            metadata=credentials.workers["w-2"],
            timeout=DEADLINE_S,
        )

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    own = await stub.GetStatement(
        payroll_pb2.GetStatementRequest(worker_id="w-2"),
        metadata=credentials.workers["w-2"],
        timeout=DEADLINE_S,
    )
    assert [line.task_id for line in own.lines] == ["task-3"]


async def test_operators_read_any_statement(
    stub: "Stub", handlers: PayrollHandlers, credentials: Credentials
) -> None:
    await pay(handlers)

    for worker_id in ("w-1", "w-2"):
        statement = await stub.GetStatement(
            payroll_pb2.GetStatementRequest(worker_id=worker_id),
            metadata=credentials.operator,
            timeout=DEADLINE_S,
        )
        assert statement.worker_id == worker_id


async def test_platforms_read_no_statement_and_no_ledger(
    stub: "Stub", handlers: PayrollHandlers, credentials: Credentials
) -> None:
    await pay(handlers)
    platform = credentials.platform

    for call in (
        stub.GetStatement(
            payroll_pb2.GetStatementRequest(worker_id="w-1"), metadata=platform, timeout=DEADLINE_S
        ),
        stub.GetLedgerSummary(
            payroll_pb2.GetLedgerSummaryRequest(), metadata=platform, timeout=DEADLINE_S
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_workers_do_not_read_the_ledger(
    stub: "Stub", handlers: PayrollHandlers, credentials: Credentials
) -> None:
    await pay(handlers)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetLedgerSummary(
            payroll_pb2.GetLedgerSummaryRequest(),
            metadata=credentials.workers["w-1"],
            timeout=DEADLINE_S,
        )

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        ("", "missing"),
        ("ftk_0123456789abcdef_" + "x" * 40, "unknown or revoked"),
        ("eyJhbGciOiJIUzI1NiJ9.e30.forged", "not a fairtask worker token"),
        ("expired", "expired"),
        ("revoked", "revoked"),
    ],
)
async def test_calls_without_valid_credentials_are_unauthenticated(
    stub: "Stub", handlers: PayrollHandlers, credentials: Credentials, credential: str, message: str
) -> None:
    await pay(handlers)
    metadata = {
        "": (),
        "expired": credentials.expired_worker,
        "revoked": credentials.revoked_worker,
    }.get(credential, (("authorization", f"Bearer {credential}"),))

    for call in (
        stub.GetStatement(
            payroll_pb2.GetStatementRequest(worker_id="w-1"), metadata=metadata, timeout=DEADLINE_S
        ),
        stub.GetLedgerSummary(
            payroll_pb2.GetLedgerSummaryRequest(), metadata=metadata, timeout=DEADLINE_S
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert message in (caught.value.details() or "")
