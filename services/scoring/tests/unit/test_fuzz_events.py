"""Fuzzing scoring's Kafka consumers: any envelope is handled, refused as poison (leaving every
store as it was), or, for a submission whose task has not arrived yet, retried."""

import asyncio
import dataclasses

from hypothesis import HealthCheck, given, settings

from fairtask.v1 import envelope_pb2
from fairtask_fuzzing import tally
from fairtask_fuzzing.events import envelopes
from fairtask_fuzzing.state import state_of
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.envelope import PoisonMessageError
from scoring.adapters.memory import MemoryPorts
from scoring.domain.errors import TaskNotKnownError
from scoring.entrypoints.consumers import SubmissionScoring, TaskIntake, WithdrawnAnswers
from scoring.service_layer.handlers import WatchConfig

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


async def consume(envelope: envelope_pb2.Envelope) -> None:
    ports = MemoryPorts()
    handlers = ports.handlers(FakeClock(), WatchConfig())
    fakes = [getattr(ports, f.name) for f in dataclasses.fields(ports)]
    for consumer in (TaskIntake(handlers), SubmissionScoring(handlers), WithdrawnAnswers(handlers)):
        before = state_of(*fakes)
        try:
            await consumer(envelope)
        except PoisonMessageError:
            assert state_of(*fakes) == before
        except TaskNotKnownError:
            assert state_of(*fakes) == before


@FUZZ
@given(envelope=envelopes())
def test_any_envelope_is_handled_or_poison(envelope: envelope_pb2.Envelope) -> None:
    tally.tried("scoring.consumers")
    asyncio.run(consume(envelope))
