"""Fuzzing payroll's Kafka consumer: any envelope is paid, ignored, or refused as poison, and a
refused one posts nothing."""

import asyncio
import itertools

from hypothesis import HealthCheck, given, settings

from fairtask.v1 import envelope_pb2
from fairtask_fuzzing import tally
from fairtask_fuzzing.events import envelopes
from fairtask_fuzzing.state import state_of
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.envelope import PoisonMessageError
from payroll.adapters.memory import MemoryEntryPublisher, MemoryLedger
from payroll.entrypoints.consumers import PayrollConsumer
from payroll.service_layer.handlers import PayrollHandlers

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


async def consume(envelope: envelope_pb2.Envelope) -> None:
    ledger, publisher, ids = MemoryLedger(), MemoryEntryPublisher(), itertools.count(1)
    handlers = PayrollHandlers(
        ledger=ledger,
        publisher=publisher,
        clock=FakeClock(),
        new_id=lambda: f"00000000-0000-7000-8000-{next(ids):012d}",
        floor_micros_per_hour=12_000_000,
    )
    before = state_of(ledger, publisher)
    try:
        await PayrollConsumer(handlers)(envelope)
    except PoisonMessageError:
        assert state_of(ledger, publisher) == before
        return
    lines = [line for posting in ledger.postings.values() for line in posting.lines]
    assert sum(line.amount_micros for line in lines) == 0
    assert all(posting.amount_micros > 0 for posting in ledger.postings.values())


@FUZZ
@given(envelope=envelopes())
def test_any_envelope_is_paid_ignored_or_poison(envelope: envelope_pb2.Envelope) -> None:
    tally.tried("payroll.consumer")
    asyncio.run(consume(envelope))
