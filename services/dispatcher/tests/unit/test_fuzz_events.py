"""Fuzzing the dispatcher's Kafka consumer: any envelope is ingested or refused as poison.

Anything else would be retried for ever and stall the partition; a poison message must leave
the store as it was, since the runtime sends it to the DLQ and moves on.
"""

import asyncio
import contextlib
import copy

from dispatcher_world import World
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.entrypoints.consumers import AnswerRequests, TaskIngest
from fairtask.v1 import envelope_pb2
from fairtask_fuzzing import tally
from fairtask_fuzzing.events import envelopes
from fairtask_runtime.envelope import PoisonMessageError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


async def ingest(batch: list[envelope_pb2.Envelope]) -> None:
    world = World()
    intake = TaskIngest(world.dispatch)
    before = copy.deepcopy(world.store.state)
    try:
        if len(batch) == 1:
            await intake(batch[0])
        else:
            await intake.many(batch)
    except PoisonMessageError:
        assert world.store.state == before
        return
    tasks = world.store.state.tasks
    known: set[str] = set()
    for envelope in batch:
        task = envelope.task_submitted
        if task.answer_of and task.answer_of not in known and task.task_id not in known:
            continue  # a further answer's copy of a task never known here is dropped
        known.add(task.task_id)
    assert known <= set(tasks)


@FUZZ
@given(batch=st.lists(envelopes(), min_size=1, max_size=3))
def test_any_envelope_is_ingested_or_poison(batch: list[envelope_pb2.Envelope]) -> None:
    tally.tried("dispatcher.consumer.tasks.submitted", len(batch))
    asyncio.run(ingest(batch))


async def ask_for_answers(envelope: envelope_pb2.Envelope) -> None:
    world = World()
    requests = AnswerRequests(world.platform)
    before = copy.deepcopy(world.store.state)
    with contextlib.suppress(PoisonMessageError):
        await requests(envelope)
    # Scoring's requests name tasks this dispatcher never had: nothing is queued for them.
    assert world.store.state == before
    assert world.events.events == []


@FUZZ
@given(envelope=envelopes())
def test_any_request_for_an_answer_is_handled_or_poison(envelope: envelope_pb2.Envelope) -> None:
    tally.tried("dispatcher.consumer.tasks.overlap", 1)
    asyncio.run(ask_for_answers(envelope))
