"""Traffic through Kafka before anything is measured.

A broker just started runs its request paths interpreted until its JVM has compiled them: right
after a restart of the local stack, four one-minute windows of the dispatcher at 100 offers/s
took 0.32, 0.19, 0.16 and 0.12 core of Kafka, and submit-to-offer p99 went 25, 21, 17 and 16 ms.
`make bench` starts its stack minutes before measuring, so without this the first server
measured (the dispatcher) met a colder broker than the baselines after it.
"""

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from fairtask_localstack.topics import create_topics, delete_topics, topic_names

_TOPIC = "tasks.submitted"
_BATCH = 200
_PAYLOAD = b"w" * 200


async def warm_up_kafka(bootstrap: str, seconds: float) -> int:
    """Produces (idempotent, acks=all, as the services do) and consumes in a group for
    `seconds`; returns how many messages went through."""
    prefix = f"warmup{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, prefix)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2
    )
    consumer = AIOKafkaConsumer(
        prefix + _TOPIC,
        bootstrap_servers=bootstrap,
        group_id=prefix + "group",
        auto_offset_reset="earliest",
    )
    await producer.start()
    await consumer.start()
    consumed = 0
    try:
        deadline = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < deadline:
            sends = [
                await producer.send(prefix + _TOPIC, _PAYLOAD, key=str(sent + i).encode())
                for i in range(_BATCH)
            ]
            await asyncio.gather(*sends)
            sent += _BATCH
            batch = await consumer.getmany(timeout_ms=10)
            consumed += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()
        await producer.stop()
        await delete_topics(bootstrap, topic_names(prefix))
    return consumed
