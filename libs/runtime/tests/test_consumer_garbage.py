"""Handling a message leaves nothing for the garbage collector: at ordinary loads its pauses,
not the work, are the tail of every delay."""

import gc

from aiokafka.structs import ConsumerRecord

from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_runtime.envelope import wrap
from fairtask_runtime.kafka.consumer import ConsumerConfig, EventConsumer
from fairtask_runtime.kafka.dlq import DeadLetters
from fairtask_runtime.kafka.producer import EventProducer

MESSAGES = 200


def record(offset: int) -> ConsumerRecord[bytes, bytes]:
    envelope = wrap(events_pb2.WorkerPresenceChanged(worker_id=f"w-{offset}"), producer="test")
    value = envelope.SerializeToString()
    return ConsumerRecord("workers.presence", 0, offset, 0, 0, None, value, None, 0, len(value), ())


async def test_handling_messages_one_by_one_leaves_no_reference_cycles() -> None:
    handled: list[str] = []

    async def handler(envelope: envelope_pb2.Envelope) -> None:
        handled.append(envelope.event_id)

    config = ConsumerConfig(bootstrap="127.0.0.1:9", group_id="g", topics=("workers.presence",))
    # Never started: the records are handed to it as its fetch loop would hand them.
    consumer = EventConsumer(config, handler, DeadLetters(EventProducer("127.0.0.1:9"), 0.5))
    records = [record(offset) for offset in range(MESSAGES)]
    assert await consumer._process(records[0])  # warmed up: first-use caches are not garbage

    gc.collect()
    gc.disable()
    try:
        for r in records[1:]:
            assert await consumer._process(r)
        cyclic = gc.collect()
    finally:
        gc.enable()

    assert len(handled) == MESSAGES
    assert cyclic < MESSAGES // 10, f"{cyclic} objects in cycles after {MESSAGES} messages"
