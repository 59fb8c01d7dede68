"""A consumer survives what a crashing or paused neighbour does to it: its store of handled
events unreachable for a while (Redis restarting), or its offsets refused because the group
rebalanced while it was silent. It keeps the message, retries, and handles each event once.
And a consumer that stalls (a commit that never returns, or behind yet receiving nothing) is
replaced by a new member of its group; a client (a consumer's or a producer's) whose metadata
task ended gets it started again. Lag is exported per group, and only for the partitions a
consumer holds: nothing stale stays behind (the lag alert sums what every replica exports)."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.exceptions
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from prometheus_client import REGISTRY

from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_localstack.topics import TOPICS
from fairtask_runtime.envelope import wrap
from fairtask_runtime.kafka.consumer import (
    ConsumerConfig,
    EventConsumer,
    PartitionsCallback,
    abandon,
)
from fairtask_runtime.kafka.dedupe import MemoryProcessedEvents
from fairtask_runtime.kafka.dlq import DeadLetters
from fairtask_runtime.kafka.metadata_task import revive
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
    on_assigned: PartitionsCallback | None = None,
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
        on_assigned=on_assigned,
    )


@contextlib.asynccontextmanager
async def running_loop(consumer: EventConsumer) -> AsyncIterator[asyncio.Task[None]]:
    """The consumer's loop (started already) as a task; stopped and awaited after."""
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)


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
    async with running_loop(consumer) as running:
        sent = [await send(producer, i) for i in range(2)]
        await until_handled(handled, 2, running)

        assert not running.done(), "the consumer died"
        assert sorted(set(handled)) == sorted(e.event_id for e in sent)


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
    async with running_loop(consumer) as running:
        for i in range(3):
            await send(producer, i)
            await until_handled(handled, i + 1, running)

        assert refusals == 2
        assert not running.done()


def replaced(group: str) -> float:
    sample = REGISTRY.get_sample_value("fairtask_kafka_consumers_replaced_total", {"group": group})
    return sample or 0.0


async def test_a_commit_that_never_returns_gets_the_consumer_replaced(
    stack_endpoints: Any, kafka_topics: str, producer: EventProducer
) -> None:
    """aiokafka can wait for ever inside a commit after a broker restart: the consumer gives
    it up and a new member of the group carries on, each event handled once."""
    handled: list[str] = []
    consumer = consumer_of(
        stack_endpoints,
        kafka_topics,
        producer,
        handled,
        "stuck-commit",
        processed=MemoryProcessedEvents(),
        commit_interval_s=0.0,
        commit_timeout_s=1.0,
    )
    await consumer.start()
    stuck = consumer.kafka

    async def never_returns(*args: Any, **kwargs: Any) -> None:
        await asyncio.Event().wait()

    stuck.commit = never_returns  # type: ignore[method-assign]
    before = replaced("stuck-commit")
    async with running_loop(consumer) as running:
        sent = [await send(producer, 0)]
        await until_handled(handled, 1, running)
        deadline = asyncio.get_running_loop().time() + 60
        while consumer.kafka is stuck:
            assert asyncio.get_running_loop().time() < deadline, "never replaced"
            await asyncio.sleep(0.05)
        sent += [await send(producer, i) for i in (1, 2)]
        await until_handled(handled, 3, running)

        assert replaced("stuck-commit") == before + 1
        assert sorted(set(handled)) == sorted(e.event_id for e in sent)
        assert len(handled) == 3  # the redelivered first event was a duplicate, skipped
    # The replacement committed: a later member of the group starts after the three.
    again: list[str] = []
    later = consumer_of(stack_endpoints, kafka_topics, producer, again, "stuck-commit")
    await later.start()
    async with running_loop(later) as running:
        fourth = await send(producer, 3)
        await until_handled(again, 1, running)
        assert again == [fourth.event_id]


async def test_a_consumer_behind_that_receives_nothing_is_replaced(
    stack_endpoints: Any, kafka_topics: str, producer: EventProducer
) -> None:
    handled: list[str] = []
    consumer = consumer_of(
        stack_endpoints, kafka_topics, producer, handled, "deaf-consumer", stall_after_s=1.0
    )
    await consumer.start()
    deaf = consumer.kafka

    async def nothing(*args: Any, **kwargs: Any) -> dict[Any, Any]:
        await asyncio.sleep(0.2)
        return {}

    # Fetches still run (so the partition's end moves on) but nothing reaches the loop.
    deaf.getmany = nothing  # type: ignore[method-assign]
    before = replaced("deaf-consumer")
    async with running_loop(consumer) as running:
        sent = [await send(producer, i) for i in range(2)]
        await until_handled(handled, 2, running)

        assert consumer.kafka is not deaf
        assert replaced("deaf-consumer") == before + 1
        assert sorted(set(handled)) == sorted(e.event_id for e in sent)


async def test_a_caught_up_consumer_whose_fetching_stopped_is_replaced(
    stack_endpoints: Any, kafka_topics: str, producer: EventProducer
) -> None:
    """Its partitions' ends go stale with its fetching, so it never looks behind: the time
    since a fetch was last answered gives it away."""
    handled: list[str] = []
    consumer = consumer_of(
        stack_endpoints, kafka_topics, producer, handled, "unfetched", stall_after_s=1.0
    )
    await consumer.start()
    async with running_loop(consumer) as running:
        sent = [await send(producer, 0)]
        await until_handled(handled, 1, running)
        stopped = consumer.kafka

        async def never_answered(*args: Any, **kwargs: Any) -> bool:
            await asyncio.Event().wait()
            return False

        stopped._fetcher._proc_fetch_request = never_answered
        await asyncio.sleep(1)  # the fetch in flight is answered; the next never is
        before = replaced("unfetched")
        sent.append(await send(producer, 1))
        await until_handled(handled, 2, running)

        assert consumer.kafka is not stopped
        assert replaced("unfetched") == before + 1
        assert sorted(set(handled)) == sorted(e.event_id for e in sent)


async def test_an_idle_consumer_that_is_not_behind_is_left_alone(
    stack_endpoints: Any, kafka_topics: str, producer: EventProducer
) -> None:
    handled: list[str] = []
    consumer = consumer_of(
        stack_endpoints, kafka_topics, producer, handled, "idle-consumer", stall_after_s=0.5
    )
    await consumer.start()
    first = consumer.kafka
    async with running_loop(consumer) as running:
        await send(producer, 0)
        await until_handled(handled, 1, running)
        await asyncio.sleep(2)  # four stall periods with nothing to receive
        assert consumer.kafka is first
        # Exported at 0 from the start: the first replacement is an increase to alert on.
        assert (
            REGISTRY.get_sample_value(
                "fairtask_kafka_consumers_replaced_total", {"group": "idle-consumer"}
            )
            == 0.0
        )


async def test_a_consumer_that_will_not_stop_is_closed_piece_by_piece(
    stack_endpoints: Any, kafka_topics: str, producer: EventProducer
) -> None:
    """What stop() leaves undone when its wait for a stuck coordination task is cut short:
    the heartbeats end (else the stale member keeps its partitions for minutes), and the
    fetcher and the client close. These are aiokafka internals: this checks they are there."""
    handled: list[str] = []
    consumer = consumer_of(stack_endpoints, kafka_topics, producer, handled, "abandoned")
    await consumer.start()
    async with running_loop(consumer) as running:
        await send(producer, 0)
        await until_handled(handled, 1, running)
        kafka = consumer.kafka
        assert kafka._coordinator._heartbeat_task is not None

        await abandon(kafka)

        assert kafka._coordinator._heartbeat_task is None
        assert kafka._fetcher._fetch_task.done()
        assert kafka._client._sync_task is None


async def test_a_new_group_starting_at_the_end_skips_what_came_before_it(
    stack_endpoints: Any, kafka_topics: str, producer: EventProducer
) -> None:
    await send(producer, 0)
    handled: list[str] = []
    assigned = asyncio.Event()

    async def on_assigned(partitions: set[Any]) -> None:
        assigned.set()

    consumer = consumer_of(
        stack_endpoints,
        kafka_topics,
        producer,
        handled,
        "from-the-end",
        on_assigned=on_assigned,
        start_at="latest",
    )
    await consumer.start()
    async with running_loop(consumer) as running:
        await asyncio.wait_for(assigned.wait(), 30)
        # Positions are taken (at the end) once the loop first fetches.
        await asyncio.sleep(1)
        later = await send(producer, 1)
        await until_handled(handled, 1, running)
        assert handled == [later.event_id]


def revived() -> float:
    return REGISTRY.get_sample_value("fairtask_kafka_metadata_tasks_revived_total") or 0.0


async def kill_metadata_task(client: Any) -> None:
    client._sync_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await client._sync_task


async def test_a_producers_metadata_task_that_ended_is_started_again(
    producer: EventProducer,
) -> None:
    client = producer._producer.client
    assert not revive(client)  # alive: left alone
    before = revived()
    await kill_metadata_task(client)

    # Without it this waits for ever.
    assert await asyncio.wait_for(client.force_metadata_update(), 10)
    assert revived() == before + 1
    assert not client._sync_task.done()


async def test_a_consumers_metadata_task_that_ended_is_started_again(
    stack_endpoints: Any,
    kafka_topics: str,
    producer: EventProducer,
) -> None:
    consumer = consumer_of(stack_endpoints, kafka_topics, producer, [], "metadata-task")
    await consumer.start()
    async with running_loop(consumer):
        client = consumer.kafka._client
        await kill_metadata_task(client)
        assert await asyncio.wait_for(client.force_metadata_update(), 10)
        assert not client._sync_task.done()


def lag_shown(group: str) -> dict[tuple[str, str], float]:
    """(topic, partition) -> lag, as exported for the group."""
    return {
        (s.labels["topic"], s.labels["partition"]): s.value
        for metric in REGISTRY.collect()
        if metric.name == "fairtask_kafka_consumer_lag_messages"
        for s in metric.samples
        if s.labels["group"] == group
    }


async def test_each_group_shows_its_own_lag_until_its_consumer_stops(
    stack_endpoints: Any, kafka_topics: str, producer: EventProducer
) -> None:
    """Two groups on one topic each export their lag; a stopped consumer leaves none behind
    (the lag alert sums what every replica exports)."""
    handled: list[str] = []
    groups = ("lag-first", "lag-second")
    consumers = {
        group: consumer_of(stack_endpoints, kafka_topics, producer, handled, group)
        for group in groups
    }
    for i in range(3):
        await send(producer, i)
    for consumer in consumers.values():
        await consumer.start()
    async with running_loop(consumers["lag-second"]):
        async with running_loop(consumers["lag-first"]):
            deadline = asyncio.get_running_loop().time() + 60
            while any(
                len(lag) < TOPICS[TOPIC] or any(lag.values())
                for lag in (lag_shown(g) for g in groups)
            ):
                assert asyncio.get_running_loop().time() < deadline, "lag not shown, or not 0"
                await asyncio.sleep(0.1)

        assert lag_shown("lag-first") == {}
        assert len(lag_shown("lag-second")) == TOPICS[TOPIC]


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
    assert lag_shown("lag-moved") == {(TOPIC, "0"): 0, (TOPIC, "1"): 1, (TOPIC, "2"): 2}

    # A rebalance: 0 and 1 went to another replica, 3 came.
    consumer._consumer = HeldPartitions(2, 3)  # type: ignore[assignment]
    await consumer._inspect_partitions()
    assert lag_shown("lag-moved") == {(TOPIC, "2"): 2, (TOPIC, "3"): 3}
    await never_started.stop()
