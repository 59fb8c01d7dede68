"""A platform funding its escrow before it submits work, as fairtask requires."""

import grpc
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from fairtask.v1 import payroll_pb2, payroll_pb2_grpc
from fairtask_runtime.grpc.identity import Metadata

# Far more than any demo run spends: the run is about dispatch, not about running dry.
DEMO_DEPOSIT_MICROS = 1_000_000 * 1_000_000


def _retryable(error: BaseException) -> bool:
    return isinstance(error, grpc.aio.AioRpcError) and error.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )


async def fund(
    channel: grpc.aio.Channel,
    credentials: Metadata,
    deposit_id: str,
    amount_micros: int = DEMO_DEPOSIT_MICROS,
) -> payroll_pb2.EscrowBalance:
    """Deposits once (idempotent per deposit id, so retrying a lost answer is safe)."""
    stub = payroll_pb2_grpc.EscrowServiceStub(channel)
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_retryable),
        stop=stop_after_delay(60),
        wait=wait_exponential(multiplier=0.2, max=3),
        reraise=True,
    ):
        with attempt:
            answer = await stub.Deposit(
                payroll_pb2.DepositRequest(deposit_id=deposit_id, amount_micros=amount_micros),
                metadata=credentials,
                timeout=10,
            )
    return answer.escrow
