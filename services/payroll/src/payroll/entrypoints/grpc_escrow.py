"""fairtask.v1.EscrowService: platforms fund, inspect and withdraw their escrow; the
dispatcher (an operator key) holds each new task's price before accepting it."""

from collections.abc import Awaitable, Callable

import grpc

from fairtask.v1 import payroll_pb2, payroll_pb2_grpc
from fairtask_runtime.grpc.callers import CallerAuthenticator, CallerKind
from fairtask_runtime.grpc.errors import (
    ESCROW_INSUFFICIENT,
    FieldViolation,
    bad_request_status,
    precondition_failed_status,
)
from fairtask_runtime.grpc.server import Registrar
from payroll.domain.errors import InvalidPostingError
from payroll.domain.escrow import EscrowBalance, InsufficientEscrowError, TaskHold
from payroll.domain.pay import id_problem
from payroll.service_layer.handlers import PayrollHandlers
from payroll.service_layer.ports import LedgerUnavailableError

SERVICE_NAME = payroll_pb2.DESCRIPTOR.services_by_name["EscrowService"].full_name

Context = grpc.aio.ServicerContext[object, object]


def balance_to_pb(balance: EscrowBalance) -> payroll_pb2.EscrowBalance:
    return payroll_pb2.EscrowBalance(
        platform_id=balance.platform_id,
        deposited_micros=balance.deposited_micros,
        withdrawn_micros=balance.withdrawn_micros,
        spent_micros=balance.spent_micros,
        held_micros=balance.held_micros,
        available_micros=balance.available_micros,
    )


async def _answer(
    context: Context, call: Callable[[], Awaitable[EscrowBalance]]
) -> payroll_pb2.EscrowBalance:
    try:
        return balance_to_pb(await call())
    except InvalidPostingError as error:
        await context.abort_with_status(
            bad_request_status([FieldViolation(error.field, error.description)])
        )
    except InsufficientEscrowError as error:
        await context.abort_with_status(
            precondition_failed_status(
                str(error),
                subject=f"escrow/{error.balance.platform_id}",
                reason=ESCROW_INSUFFICIENT,
                metadata={
                    "available_micros": str(error.balance.available_micros),
                    "needed_micros": str(error.needed_micros),
                },
            )
        )
    except LedgerUnavailableError:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the ledger is unavailable; retry")
    raise AssertionError("abort returns only by raising")


class EscrowServicer(payroll_pb2_grpc.EscrowServiceServicer):
    def __init__(self, handlers: PayrollHandlers, callers: CallerAuthenticator) -> None:
        self._handlers = handlers
        self._callers = callers

    async def _platform(self, context: Context) -> str:
        caller = await self._callers.caller(context)
        if caller.kind is not CallerKind.PLATFORM:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "only a platform moves its own escrow"
            )
        return caller.id

    async def GetEscrow(
        self, request: payroll_pb2.GetEscrowRequest, context: Context
    ) -> payroll_pb2.GetEscrowResponse:
        caller = await self._callers.caller(context)
        if caller.kind is CallerKind.OPERATOR and request.platform_id:
            problem = id_problem(request.platform_id)
            if problem is not None:
                await context.abort_with_status(
                    bad_request_status([FieldViolation("platform_id", problem)])
                )
            platform_id = request.platform_id
        elif caller.kind is CallerKind.PLATFORM and request.platform_id in ("", caller.id):
            platform_id = caller.id
        else:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "a platform reads its own escrow; operators name the platform",
            )
            raise AssertionError("abort returns only by raising")
        escrow = await _answer(context, lambda: self._handlers.escrow(platform_id))
        return payroll_pb2.GetEscrowResponse(escrow=escrow)

    async def Deposit(
        self, request: payroll_pb2.DepositRequest, context: Context
    ) -> payroll_pb2.DepositResponse:
        platform_id = await self._platform(context)
        escrow = await _answer(
            context,
            lambda: self._handlers.deposit(platform_id, request.deposit_id, request.amount_micros),
        )
        return payroll_pb2.DepositResponse(escrow=escrow)

    async def Withdraw(
        self, request: payroll_pb2.WithdrawRequest, context: Context
    ) -> payroll_pb2.WithdrawResponse:
        platform_id = await self._platform(context)
        escrow = await _answer(
            context,
            lambda: self._handlers.withdraw(
                platform_id, request.withdrawal_id, request.amount_micros
            ),
        )
        return payroll_pb2.WithdrawResponse(escrow=escrow)

    async def HoldForTasks(
        self, request: payroll_pb2.HoldForTasksRequest, context: Context
    ) -> payroll_pb2.HoldForTasksResponse:
        caller = await self._callers.caller(context)
        if caller.kind is not CallerKind.OPERATOR:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "holds are made by the dispatcher only"
            )
        holds = [TaskHold(h.task_id, h.amount_micros) for h in request.holds]
        escrow = await _answer(
            context, lambda: self._handlers.hold_for_tasks(request.platform_id, holds)
        )
        return payroll_pb2.HoldForTasksResponse(escrow=escrow)


def register_escrow(servicer: EscrowServicer) -> Registrar:
    def add(server: grpc.aio.Server) -> None:
        payroll_pb2_grpc.add_EscrowServiceServicer_to_server(servicer, server)

    return add
