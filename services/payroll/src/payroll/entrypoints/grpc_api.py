"""fairtask.v1.PayrollService: protobuf in, domain queries, protobuf out.

A worker reads their own statement; an operator reads any statement and the ledger's totals;
a platform reads neither (what it paid shows in its own billing, not in workers' pay).
"""

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from fairtask.v1 import payroll_pb2, payroll_pb2_grpc
from fairtask_runtime.grpc.callers import Caller, CallerAuthenticator, CallerKind
from fairtask_runtime.grpc.errors import FieldViolation, bad_request_status
from fairtask_runtime.grpc.server import Registrar
from payroll.adapters.kafka import ENTRY_KINDS
from payroll.domain.commands import GetStatement
from payroll.domain.model import LedgerSummary, Statement
from payroll.domain.pay import id_problem
from payroll.service_layer.handlers import PayrollHandlers
from payroll.service_layer.ports import LedgerUnavailableError

SERVICE_NAME = payroll_pb2.DESCRIPTOR.services_by_name["PayrollService"].full_name

Context = grpc.aio.ServicerContext[object, object]


class PayrollServicer(payroll_pb2_grpc.PayrollServiceServicer):
    def __init__(self, handlers: PayrollHandlers, callers: CallerAuthenticator) -> None:
        self._handlers = handlers
        self._callers = callers

    async def GetStatement(
        self, request: payroll_pb2.GetStatementRequest, context: Context
    ) -> payroll_pb2.GetStatementResponse:
        caller = await self._callers.caller(context)
        if not _may_read_statement(caller, request.worker_id):
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "a worker reads only their own statement, and platforms read none",
            )
        violations = _statement_violations(request)
        if violations:
            await context.abort_with_status(bad_request_status(violations))
        try:
            statement = await self._handlers.statement(GetStatement(request.worker_id))
        except LedgerUnavailableError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the ledger is unavailable")
        if statement is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no postings for this worker")
        return _statement_to_proto(statement)

    async def GetLedgerSummary(
        self, request: payroll_pb2.GetLedgerSummaryRequest, context: Context
    ) -> payroll_pb2.GetLedgerSummaryResponse:
        caller = await self._callers.caller(context)
        if caller.kind is not CallerKind.OPERATOR:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "the ledger's totals are for operators only"
            )
        try:
            summary = await self._handlers.ledger_summary()
        except LedgerUnavailableError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the ledger is unavailable")
        return _summary_to_proto(summary)


def register(servicer: PayrollServicer) -> Registrar:
    def add(server: grpc.aio.Server) -> None:
        payroll_pb2_grpc.add_PayrollServiceServicer_to_server(servicer, server)

    return add


def _may_read_statement(caller: Caller, worker_id: str) -> bool:
    if caller.kind is CallerKind.OPERATOR:
        return True
    return caller.kind is CallerKind.WORKER and caller.id == worker_id


def _statement_violations(request: payroll_pb2.GetStatementRequest) -> list[FieldViolation]:
    problem = id_problem(request.worker_id)
    return [] if problem is None else [FieldViolation("worker_id", problem)]


def _statement_to_proto(statement: Statement) -> payroll_pb2.GetStatementResponse:
    response = payroll_pb2.GetStatementResponse(
        worker_id=statement.worker_id,
        balance_micros=statement.balance_micros,
        tasks_paid=statement.tasks_paid,
        paid_seconds=statement.paid_seconds,
        paid_out_micros=statement.paid_out_micros,
    )
    for line in statement.lines:
        posted_at = Timestamp()
        posted_at.FromDatetime(line.posted_at)
        response.lines.append(
            payroll_pb2.StatementLine(
                entry_id=line.entry_id,
                kind=ENTRY_KINDS[line.kind],
                amount_micros=line.amount_micros,
                paid_seconds=line.paid_seconds,
                task_id=line.task_id,
                posted_at=posted_at,
            )
        )
    return response


def _summary_to_proto(summary: LedgerSummary) -> payroll_pb2.GetLedgerSummaryResponse:
    return payroll_pb2.GetLedgerSummaryResponse(
        balanced=summary.balanced,
        total_debits_micros=summary.total_debits_micros,
        total_credits_micros=summary.total_credits_micros,
        postings=summary.postings,
        regions=[
            payroll_pb2.RegionEarnings(
                region=r.region,
                earnings_micros=r.earnings_micros,
                paid_seconds=r.paid_seconds,
                tasks_paid=r.tasks_paid,
            )
            for r in summary.regions
        ],
    )
