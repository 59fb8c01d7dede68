"""A consumer survives what a crashing or paused neighbour does to it: its store of handled
events unreachable for a while (Redis restarting), or its offsets refused because the group
rebalanced while it was silent. It keeps the message, retries, and handles each event once."""

import asyncio
from typing import Any

import pytest
import redis.exceptions
from aiokafka.errors import CommitFailedError

from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_runtime.envelope import wrap
from fairtask_runtime.kafka.consumer import ConsumerConfig, EventConsumer
from fairtask_runtime.kafka.dedupe import MemoryProcessedEvents
from fairtask_runtime.kafka.dlq import DeadLetters
from fairtask_runtime.kafka.producer import EventProducer

pytestmark = pytest.mark.integration

TOPIC = "workers.presence"


class FlakyStore(MemoryProcessedEvents):
    """Refuses its first `failures` calls, as a Redis being restarted would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise redis.exceptions.ConnectionError("Connection closed by server.")

    async def seen(self, event_id: str) -> bool:
        self._maybe_fail()
        return await super().seen(event_id)

    async def remember(self, event_id: str) -> None:
        self._maybe_fail()
        await super().remember(event_id)


@pytest.mark.parametrize("failures", [1, 3, 6])
async def test_an_unreachable_store_is_waited_out_and_each_event_handled_once(
    stack_endpoints: Any, kafka_topics: str, failures: int
) -> None:
    producer = EventProducer(stack_endpoints.kafka_bootstrap, kafka_topics, client_id="test")
    await producer.start()
    handled: list[str] = []
    all_handled = asyncio.Event()

    async def handler(envelope: envelope_pb2.Envelope) -> None:
        handled.append(envelope.event_id)
        if len(set(handled)) == 2:
            all_handled.set()

    consumer = EventConsumer(
        ConsumerConfig(
            bootstrap=stack_endpoints.kafka_bootstrap,
            group_id="store-outage",
            topics=(TOPIC,),
            topic_prefix=kafka_topics,
            max_retry_wait_s=0.2,
        ),
        handler,
        DeadLetters(producer, max_ratio=0.5),
        processed=FlakyStore(failures),
    )
    await consumer.start()
    running = asyncio.create_task(consumer.run())
    try:
        sent = [
            wrap(events_pb2.WorkerPresenceChanged(worker_id=f"w-{i}"), producer="test")
            for i in range(2)
        ]
        for envelope in sent:
            await producer.publish(TOPIC, envelope.event_id, envelope)
        await asyncio.wait_for(all_handled.wait(), 60)

        assert not running.done(), "the consumer died"
        assert sorted(set(handled)) == sorted(e.event_id for e in sent)
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 30)
        await producer.stop()


async def test_a_commit_refused_after_a_rebalance_does_not_stop_the_consumer(
    stack_endpoints: Any, kafka_topics: str
) -> None:
    producer = EventProducer(stack_endpoints.kafka_bootstrap, kafka_topics, client_id="test")
    await producer.start()
    handled: list[str] = []
    consumer = EventConsumer(
        ConsumerConfig(
            bootstrap=stack_endpoints.kafka_bootstrap,
            group_id="refused-commit",
            topics=(TOPIC,),
            topic_prefix=kafka_topics,
            commit_interval_s=0.0,
        ),
        lambda envelope: _append(handled, envelope),
        DeadLetters(producer, max_ratio=0.5),
    )
    await consumer.start()
    refusals = 0
    real_commit = consumer.kafka.commit

    async def refusing_commit(*args: Any, **kwargs: Any) -> None:
        nonlocal refusals
        if refusals < 2:
            refusals += 1
            raise CommitFailedError("the group has already rebalanced")
        await real_commit(*args, **kwargs)

    consumer.kafka.commit = refusing_commit  # type: ignore[method-assign]
    running = asyncio.create_task(consumer.run())
    try:
        for i in range(3):
            envelope = wrap(events_pb2.WorkerPresenceChanged(worker_id=f"w-{i}"), producer="t")
            await producer.publish(TOPIC, envelope.event_id, envelope)
            deadline = asyncio.get_running_loop().time() + 60
            while len(set(handled)) <= i:
                assert asyncio.get_running_loop().time() < deadline, "not handled"
                assert not running.done(), "the consumer died"
                await asyncio.sleep(0.05)

        assert refusals == 2
        assert not running.done()
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 30)
        await producer.stop()


async def _append(handled: list[str], envelope: envelope_pb2.Envelope) -> None:
    handled.append(envelope.event_id)
