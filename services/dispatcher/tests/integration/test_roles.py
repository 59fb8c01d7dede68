"""The dispatcher split into roles, as the prod overlay deploys it: a gateway serves the platform
and the workers' connections but schedules nothing; a scheduler owns every pool and decides;
the gateway pushes the scheduler's offers to the workers it holds."""

import asyncio
from typing import Any

import pytest
from dispatcher_processes import (
    Dispatchers,
    Platform,
    eventually,
    register,
    scheduled_partitions,
    states,
)
from resilient_workers import ResilientWorker

from fairtask_localstack.topics import PARTITIONS

pytestmark = pytest.mark.integration


async def test_a_gateway_holds_the_workers_while_a_scheduler_decides(
    dispatchers: Dispatchers, stack_endpoints: Any
) -> None:
    scheduler = dispatchers.start(extra={"FAIRTASK_ROLE": "scheduler"})
    gateway = dispatchers.start(extra={"FAIRTASK_ROLE": "gateway"})
    await asyncio.gather(scheduler.wait_healthy(60), gateway.wait_healthy(60))
    platform = await Platform.for_(dispatchers)
    await platform.define(gateway.grpc_target, "kind-0", "roles")

    async def scheduler_owns_all() -> bool:
        return await scheduled_partitions(scheduler) == set(range(PARTITIONS))

    await eventually(scheduler_owns_all, 30, "the scheduler owns every partition")
    token = await register(gateway.grpc_target, "w-roles", ["roles"])
    worker = ResilientWorker("w-roles", token, [gateway.grpc_target], work_s=0.1)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        task_ids = await platform.submit(
            gateway.grpc_target, [("kind-0", f"r{i}") for i in range(5)]
        )

        async def all_done() -> bool:
            return (await states(dispatchers, task_ids)).count("submitted") == len(task_ids)

        await eventually(all_done, 60, "the gateway's worker did every task")
    finally:
        stop.set()
        await running

    assert await scheduled_partitions(gateway) == set()
    assert sorted(worker.submitted) == sorted(task_ids)
    assert worker.problems == []
