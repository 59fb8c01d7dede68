"""Fuzzing every request of payroll's gRPC APIs over a real loopback server backed by fakes:
whatever arrives, the answer is OK or a client error; a query never posts anything and a
refused escrow request changes nothing."""

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairtask.v1 import payroll_pb2
from fairtask_fuzzing import tally
from fairtask_fuzzing.grpc_calls import CLIENT_ERRORS, call_raw, methods, request_bytes, serving
from fairtask_fuzzing.state import state_of
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.grpc.identity import Metadata
from fairtask_runtime.grpc.sample_callers import credentials_at
from fairtask_runtime.grpc.server import GrpcServer
from payroll.adapters.memory import MemoryEntryPublisher, MemoryLedger
from payroll.domain.commands import PayForTask
from payroll.entrypoints.grpc_api import SERVICE_NAME, PayrollServicer, register
from payroll.entrypoints.grpc_escrow import SERVICE_NAME as ESCROW_SERVICE
from payroll.entrypoints.grpc_escrow import EscrowServicer, register_escrow
from payroll.service_layer.handlers import PayrollHandlers

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
METHODS = methods(payroll_pb2.DESCRIPTOR, unary=False)
Served = tuple[grpc.Channel, MemoryLedger, MemoryEntryPublisher, list[Metadata]]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    ledger, publisher, ids = MemoryLedger(), MemoryEntryPublisher(), itertools.count(1)
    clock = FakeClock()
    credentials = asyncio.run(credentials_at(clock))
    # Every kind of caller, and none: the deepest paths are the operator's.
    callers = [
        credentials.operator,
        credentials.workers["w-1"],
        credentials.platform,
        credentials.expired_worker,
        (),
    ]
    handlers = PayrollHandlers(
        ledger=ledger,
        publisher=publisher,
        clock=clock,
        new_id=lambda: f"00000000-0000-7000-8000-{next(ids):012d}",
        floor_micros_per_hour=12_000_000,
    )
    servicer = PayrollServicer(handlers, credentials.callers)
    escrow = EscrowServicer(handlers, credentials.callers)

    def build() -> GrpcServer:
        return GrpcServer(
            [SERVICE_NAME, ESCROW_SERVICE], [register(servicer), register_escrow(escrow)]
        )

    with serving(build) as (loop, channel):
        paid = PayForTask("sub-1", "task-1", "w-1", "ke", "lab-a", "bbox", 400_000, 90, "evt-1")
        loop.run(handlers.pay_for_task(paid))
        yield channel, ledger, publisher, callers


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
@FUZZ
@given(data=st.data())
def test_any_request_gets_a_client_answer_and_changes_nothing(
    served: Served, method: Any, data: st.DataObject
) -> None:
    channel, ledger, publisher, callers = served
    raw = data.draw(request_bytes(method))
    metadata = data.draw(st.sampled_from(callers))
    before = state_of(ledger, publisher)

    code = call_raw(channel, method, raw, metadata=metadata)

    tally.tried(f"payroll.{method.name}")
    moves_money = method.containing_service.full_name == ESCROW_SERVICE and method.name != (
        "GetEscrow"
    )
    assert code in CLIENT_ERRORS, f"{method.name} answered {code} to {raw!r:.300}"
    if code is not grpc.StatusCode.OK or not moves_money:
        assert state_of(ledger, publisher) == before
