"""Two dispatcher processes in one consumer group share the pools of the 12-partition
tasks.submitted topic; workers connect to either, and get offers from both. When one is killed,
the other takes its pools and its workers over, and nothing is lost or offered twice at once."""

import asyncio
from typing import Any

import pytest
from dispatcher_processes import (
    Dispatchers,
    Platform,
    all_published,
    eventually,
    read_topic,
    register,
    scheduled_partitions,
    states,
)
from resilient_workers import ResilientWorker, overlapping_holds
from task_books import audit

from dispatcher.adapters.kafka import pool_partition
from fairtask_localstack.topics import PARTITIONS

pytestmark = pytest.mark.integration

KINDS = [f"kind-{i}" for i in range(12)]  # twelve pools of lab-a, spread over the partitions


async def test_two_replicas_share_the_pools_and_the_survivor_takes_over(
    dispatchers: Dispatchers, stack_endpoints: Any
) -> None:
    one, two = dispatchers.start(), dispatchers.start()
    await asyncio.gather(one.wait_healthy(60), two.wait_healthy(60))
    platform = await Platform.for_(dispatchers)
    for kind in KINDS:
        await platform.define(one.grpc_target, kind, "replicas")

    async def split() -> bool:
        ours, theirs = await scheduled_partitions(one), await scheduled_partitions(two)
        return bool(ours) and bool(theirs) and ours | theirs == set(range(PARTITIONS))

    await eventually(split, 30, "the group splits the partitions between the replicas")
    owned_by_two = await scheduled_partitions(two)
    targets = [[one.grpc_target, two.grpc_target], [two.grpc_target, one.grpc_target]]
    workers = [
        ResilientWorker(
            f"w{i}",
            await register(one.grpc_target, f"w{i}", ["replicas"]),
            targets[i % 2],
            work_s=0.2,
            decline_every=7,
        )
        for i in range(8)
    ]
    stop = asyncio.Event()
    running = [asyncio.create_task(worker.run(stop)) for worker in workers]

    async def done(task_ids: list[str], at_least: int) -> bool:
        return (await states(dispatchers, task_ids)).count("submitted") >= at_least

    # Both replicas offer their pools' tasks to every worker, whichever replica holds them.
    batch = [(kind, f"a{i}-{kind}") for i in range(4) for kind in KINDS]
    first = await platform.submit(one.grpc_target, batch)
    kinds = dict(zip(first, (kind for kind, _ in batch), strict=True))
    partition_of = {t: pool_partition(f"lab-a/{kind}", PARTITIONS) for t, kind in kinds.items()}
    await eventually(lambda: done(first, len(first)), 60, "the first batch done")
    on_one = [w for w in workers if w.targets[0] == one.grpc_target]
    from_two = [
        hold.task_id
        for worker in on_one
        for hold in worker.holds
        if partition_of[hold.task_id] in owned_by_two
    ]
    assert from_two, "no offer of the other replica's pools reached a worker held by this one"

    # One replica dies under load; the survivor takes its pools once the group notices.
    batch = [(kind, f"b{i}-{kind}") for i in range(4) for kind in KINDS]
    second = await platform.submit(two.grpc_target, batch)
    await eventually(lambda: done(second, len(second) // 4), 60, "a quarter of the second batch")
    dispatchers.kill(one)
    await eventually(lambda: done(second, len(second)), 60, "every task done by the survivor")
    assert await scheduled_partitions(two) == set(range(PARTITIONS))
    await eventually(lambda: all_published(dispatchers), 20, "every event relayed to Kafka")
    stop.set()
    await asyncio.gather(*running)

    prefix, bootstrap = dispatchers.topic_prefix, stack_endpoints.kafka_bootstrap
    assigned = await read_topic(bootstrap, prefix + "tasks.assigned")
    submissions = await read_topic(bootstrap, prefix + "submissions")
    assert audit(assigned, submissions, first + second) == []
    assert overlapping_holds(workers) == []
    assert [problem for worker in workers for problem in worker.problems] == []
    assert all(worker.sessions >= 2 for worker in on_one)  # moved over to the survivor
