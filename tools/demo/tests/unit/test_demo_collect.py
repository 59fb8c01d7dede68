"""Reading outcomes back: unknown tasks are lost, an unreachable service gives up quickly."""

import asyncio
from datetime import UTC, datetime

import grpc

from fairtask_demo import collect
from fairtask_demo.fakes import FakeServices, FakeWorld, serve_fakes
from fairtask_demo.model import SubmittedTask
from fairtask_localstack.ports import free_ports
from fairtask_runtime.grpc.identity import bearer
from fairtask_runtime.rate_limits import RateLimit
from fairtask_runtime.settings import DEFAULT_OPERATOR_PLATFORM_ID

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _task(task_id: str, platform: str = "lab-a") -> SubmittedTask:
    return SubmittedTask(task_id, f"c-{task_id}", platform, "image-label", 90, False, NOW, NOW)


async def test_a_task_the_dispatcher_does_not_know_is_lost(fake_services: FakeServices) -> None:
    key = await fake_services.world.keys.issue("lab-a")
    async with grpc.aio.insecure_channel(fake_services.target) as channel:
        found = await collect.task_states(
            channel, [_task("nobody-knows-me")], {"lab-a": bearer(key.key)}
        )
    assert found["nobody-knows-me"].state == "LOST"


async def test_statements_carry_entry_kinds_by_name(fake_services: FakeServices) -> None:
    fake_services.world.paid["w1"] = [("t1", 400_000, 90)]
    operator = bearer((await fake_services.world.keys.issue(DEFAULT_OPERATOR_PLATFORM_ID)).key)
    async with grpc.aio.insecure_channel(fake_services.target) as channel:
        found = await collect.statements(channel, ["w1", "w2"], operator)
        ledger = await collect.ledger_summary(channel, operator)
    assert found["w1"].lines[0].kind == "TASK_PAY"
    assert found["w1"].earned_micros == 400_000
    assert found["w2"].tasks_paid == 0
    assert collect.tasks_paid(found) == {"t1"}
    assert ledger is not None
    assert ledger.balanced


async def test_an_unreachable_service_is_given_up_on_quickly() -> None:
    (port,) = free_ports(1)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        tasks = [_task(f"t{i}") for i in range(500)]
        found, statements, ledger = await asyncio.wait_for(
            asyncio.gather(
                collect.task_states(channel, tasks, {"lab-a": bearer("ftk_unused")}),
                collect.statements(channel, [f"w{i}" for i in range(100)], bearer("ftk_unused")),
                collect.ledger_summary(channel, bearer("ftk_unused")),
            ),
            timeout=20,
        )
    # Nothing vouched for: the report counts these tasks lost and the pay unknown.
    assert found == {}
    assert statements == {}
    assert ledger is None


async def test_payroll_reads_need_an_operators_key(fake_services: FakeServices) -> None:
    fake_services.world.paid["w1"] = [("t1", 400_000, 90)]
    platform = bearer((await fake_services.world.keys.issue("lab-a")).key)
    async with grpc.aio.insecure_channel(fake_services.target) as channel:
        found = await collect.statements(channel, ["w1"], platform)
        ledger = await collect.ledger_summary(channel, platform)
    assert found == {}
    assert ledger is None


async def test_a_throttled_read_waits_as_asked_instead_of_giving_up() -> None:
    server, services = await serve_fakes(FakeWorld(platform_rate=RateLimit("20/second")))
    try:
        key = await services.world.keys.issue("lab-a")
        async with grpc.aio.insecure_channel(services.target) as channel:
            found = await collect.task_states(
                channel, [_task(f"t{i}") for i in range(150)], {"lab-a": bearer(key.key)}
            )
    finally:
        await server.stop(0)
    # Every task was answered (here: unknown, so lost), none left out for being throttled.
    assert len(found) == 150
