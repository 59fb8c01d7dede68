"""A consumer survives what a crashing or paused neighbour does to it: its store of handled
events unreachable for a while (Redis restarting), or its offsets refused because the group
rebalanced while it was silent. It keeps the message, retries, and handles each event once."""

import asyncio
from collections.abc import AsyncIterator
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


@pytest.fixture
async def producer(stack_endpoints: Any, kafka_topics: str) -> AsyncIterator[EventProducer]:
    producer = EventProducer(stack_endpoints.kafka_bootstrap, kafka_topics, client_id="test")
    await producer.start()
    yield producer
    await producer.stop()


def consumer_of(
    stack_endpoints: Any,
    kafka_topics: str,
    producer: EventProducer,
    handled: list[str],
    group_id: str,
    processed: MemoryProcessedEvents | None = None,
    **config: Any,
) -> EventConsumer:
    """A consumer of TOPIC that notes the id of every envelope it handles."""

    async def handler(envelope: envelope_pb2.Envelope) -> None:
        handled.append(envelope.event_id)

    return EventConsumer(
        ConsumerConfig(
            bootstrap=stack_endpoints.kafka_bootstrap,
            group_id=group_id,
            topics=(TOPIC,),
            topic_prefix=kafka_topics,
            **config,
        ),
        handler,
        DeadLetters(producer, max_ratio=0.5),
        processed=processed,
    )


async def send(producer: EventProducer, i: int) -> envelope_pb2.Envelope:
    envelope = wrap(events_pb2.WorkerPresenceChanged(worker_id=f"w-{i}"), producer="test")
    await producer.publish(TOPIC, envelope.event_id, envelope)
    return envelope


async def until_handled(handled: list[str], count: int, running: asyncio.Task[None]) -> None:
    deadline = asyncio.get_running_loop().time() + 60
    while len(set(handled)) < count:
        assert asyncio.get_running_loop().time() < deadline, "not handled"
        assert not running.done(), "the consumer died"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("failures", [1, 3, 6])
async def test_an_unreachable_store_is_waited_out_and_each_event_handled_once(
    stack_endpoints: Any, kafka_topics: str, producer: EventProducer, failures: int
) -> None:
    handled: list[str] = []
    consumer = consumer_of(
        stack_endpoints,
        kafka_topics,
        producer,
        handled,
        "store-outage",
        processed=FlakyStore(failures),
        max_retry_wait_s=0.2,
    )
    await consumer.start()
    running = asyncio.create_task(consumer.run())
    try:
        sent = [await send(producer, i) for i in range(2)]
        await until_handled(handled, 2, running)

        assert not running.done(), "the consumer died"
        assert sorted(set(handled)) == sorted(e.event_id for e in sent)
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 30)


async def test_a_commit_refused_after_a_rebalance_does_not_stop_the_consumer(
    stack_endpoints: Any, kafka_topics: str, producer: EventProducer
) -> None:
    handled: list[str] = []
    consumer = consumer_of(
        stack_endpoints, kafka_topics, producer, handled, "refused-commit", commit_interval_s=0.0
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
            await send(producer, i)
            await until_handled(handled, i + 1, running)

        assert refusals == 2
        assert not running.done()
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 30)
