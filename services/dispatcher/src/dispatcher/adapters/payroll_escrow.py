"""The escrow port over payroll's EscrowService (gRPC), with the dispatcher's operator key."""

from collections.abc import Sequence

import grpc
import structlog

from dispatcher.domain.errors import EscrowUnavailableError, InsufficientEscrowError
from fairtask.v1 import payroll_pb2, payroll_pb2_grpc
from fairtask_runtime.grpc.errors import ESCROW_INSUFFICIENT, error_info_of
from fairtask_runtime.grpc.identity import bearer

log = structlog.get_logger(__name__)

_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


class PayrollEscrow:
    def __init__(self, target: str, api_key: str, timeout_s: float = 5.0) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = payroll_pb2_grpc.EscrowServiceStub(self._channel)
        self._metadata = bearer(api_key)
        self._timeout_s = timeout_s

    async def hold(self, platform_id: str, prices: Sequence[tuple[str, int]]) -> None:
        request = payroll_pb2.HoldForTasksRequest(
            platform_id=platform_id,
            holds=[payroll_pb2.TaskHold(task_id=t, amount_micros=a) for t, a in prices],
        )
        try:
            await self._stub.HoldForTasks(request, metadata=self._metadata, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as error:
            info = error_info_of(error)
            if info is not None and info.reason == ESCROW_INSUFFICIENT:
                try:
                    available = int(info.metadata["available_micros"])
                    needed = int(info.metadata["needed_micros"])
                except (KeyError, ValueError):
                    available, needed = 0, sum(a for _, a in prices)
                raise InsufficientEscrowError(available, needed) from error
            if error.code() not in _RETRYABLE:
                # A refusal the platform cannot fix (our key, a bug): say so, and to the
                # platform it is as if payroll were away, which it may retry.
                log.error("escrow refused a hold", code=error.code().name, details=error.details())
            raise EscrowUnavailableError(
                f"the escrow (payroll) cannot hold funds just now ({error.code().name}); "
                "nothing was accepted, retry"
            ) from error

    async def close(self) -> None:
        await self._channel.close()


class UncheckedEscrow:
    """No escrow: every task is accepted unfunded. For development and for measuring the
    dispatcher alone; bootstrap warns at start-up whenever it is used."""

    async def hold(self, platform_id: str, prices: Sequence[tuple[str, int]]) -> None:
        return None
