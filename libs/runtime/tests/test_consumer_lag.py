"""Consumer lag is exported per consumer group, and only for the partitions a consumer holds
now: a partition handed to another replica, or a consumer stopped, leaves no stale figure
behind (the lag alert sums what every replica exports)."""

import asyncio
import time
from typing import Any

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_localstack.topics import TOPICS
from fairtask_runtime.envelope import wrap
from fairtask_runtime.kafka.consumer import ConsumerConfig, EventConsumer
from fairtask_runtime.kafka.dlq import DeadLetters
from fairtask_runtime.kafka.producer import EventProducer

TOPIC = "workers.presence"


def shown(group: str) -> dict[tuple[str, str], float]:
    """(topic, partition) -> lag, as exported for the group."""
    return {
        (s.labels["topic"], s.labels["partition"]): s.value
        for metric in REGISTRY.collect()
        if metric.name == "fairtask_kafka_consumer_lag_messages"
        for s in metric.samples
        if s.labels["group"] == group
    }


async def ignore(envelope: envelope_pb2.Envelope) -> None:
    pass


class HeldPartitions:
    """The parts of an aiokafka consumer the lag export reads, holding what a test says."""

    def __init__(self, *partitions: int) -> None:
        self.held = {TopicPartition(TOPIC, p) for p in partitions}

    def assignment(self) -> set[TopicPartition]:
        return self.held

    def last_poll_timestamp(self, tp: TopicPartition) -> int:
        return int(time.time() * 1000)  # fetched just now

    def highwater(self, tp: TopicPartition) -> int:
        return 10 + tp.partition

    async def position(self, tp: TopicPartition) -> int:
        return 10


async def test_a_partition_no_longer_held_no_longer_shows_its_lag() -> None:
    config = ConsumerConfig(bootstrap="127.0.0.1:9", group_id="lag-moved", topics=(TOPIC,))
    unused: Any = None  # nothing is dead-lettered here
    consumer = EventConsumer(config, ignore, DeadLetters(unused, max_ratio=0.5))
    never_started = consumer.kafka
    consumer._consumer = HeldPartitions(0, 1, 2)  # type: ignore[assignment]

    await consumer._inspect_partitions()
    assert shown("lag-moved") == {(TOPIC, "0"): 0, (TOPIC, "1"): 1, (TOPIC, "2"): 2}

    # A rebalance: 0 and 1 went to another replica, 3 came.
    consumer._consumer = HeldPartitions(2, 3)  # type: ignore[assignment]
    await consumer._inspect_partitions()
    assert shown("lag-moved") == {(TOPIC, "2"): 2, (TOPIC, "3"): 3}
    await never_started.stop()


@pytest.mark.integration
async def test_each_group_shows_its_own_lag_until_its_consumer_stops(
    stack_endpoints: Any, kafka_topics: str
) -> None:
    producer = EventProducer(stack_endpoints.kafka_bootstrap, kafka_topics, client_id="test")
    await producer.start()
    consumers = {
        group: EventConsumer(
            ConsumerConfig(
                bootstrap=stack_endpoints.kafka_bootstrap,
                group_id=group,
                topics=(TOPIC,),
                topic_prefix=kafka_topics,
            ),
            ignore,
            DeadLetters(producer, max_ratio=0.5),
        )
        for group in ("lag-first", "lag-second")
    }
    try:
        for i in range(3):
            envelope = wrap(events_pb2.WorkerPresenceChanged(worker_id=f"w-{i}"), "test")
            await producer.publish(TOPIC, envelope.event_id, envelope)
        partitions = TOPICS[TOPIC]
        running = {}
        for group, consumer in consumers.items():
            await consumer.start()
            running[group] = asyncio.create_task(consumer.run())
        deadline = asyncio.get_running_loop().time() + 60
        while any(
            len(lag) < partitions or any(lag.values())
            for lag in (shown("lag-first"), shown("lag-second"))
        ):
            assert asyncio.get_running_loop().time() < deadline, "lag not shown, or not 0"
            await asyncio.sleep(0.1)

        consumers["lag-first"].stop()
        await asyncio.wait_for(running.pop("lag-first"), 30)

        assert shown("lag-first") == {}
        assert len(shown("lag-second")) == partitions
    finally:
        for group, task in running.items():
            consumers[group].stop()
            await asyncio.wait_for(task, 30)
        await producer.stop()
