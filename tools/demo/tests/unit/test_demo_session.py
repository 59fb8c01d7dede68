"""The demo load end to end against in-process fakes of the three public APIs."""

import asyncio
import dataclasses
import json
from collections.abc import Sequence

from fairtask.v1 import events_pb2
from fairtask_demo.config import DemoConfig, RegionSpec
from fairtask_demo.fakes import FakeServices
from fairtask_demo.report import build_report
from fairtask_demo.session import Control, LoadSession, Targets

FAST = DemoConfig(
    duration_s=3.0,
    tasks_per_s=20.0,
    batch_interval_s=0.25,
    time_scale=0.005,
    gold_share=0.1,
    power_cut_every_s=0.4,
    power_cut_s=(0.2, 0.4),
    drain_s=10.0,
    settle_s=3.0,
    progress_every_s=1.0,
    regions=(
        RegionSpec("us", "America/Chicago", -6, 3),
        RegionSpec("ke", "Africa/Nairobi", 3, 3, power_cuts=True),
    ),
)


class RecordedOnboarding:
    def __init__(self) -> None:
        self.steps: list[events_pb2.OnboardingCompleted] = []

    async def publish(self, steps: Sequence[events_pb2.OnboardingCompleted]) -> None:
        self.steps += steps


def _session(
    services: FakeServices,
    config: DemoConfig,
    control: Control,
    onboarding: RecordedOnboarding | None = None,
) -> LoadSession:
    t = services.target
    return LoadSession(
        config,
        Targets(t, t, t),
        control,
        services.world.keys,
        say=lambda _: None,
        onboarding=onboarding,
    )


async def test_every_worker_is_onboarded_for_every_task_type_before_work(
    fake_services: FakeServices,
) -> None:
    onboarding = RecordedOnboarding()
    session = _session(
        fake_services, dataclasses.replace(FAST, duration_s=0.5), Control(), onboarding
    )
    await session.run()

    workers = {t.profile.worker_id for t in session.tallies}
    instructions = [
        s for s in onboarding.steps if s.kind == events_pb2.ONBOARDING_KIND_INSTRUCTIONS
    ]
    assert {s.worker_id for s in instructions} == workers
    assert len(instructions) == len(workers) * len(FAST.platforms)
    assert any(s.kind == events_pb2.ONBOARDING_KIND_QUALIFICATION for s in onboarding.steps)
    assert len({s.onboarding_id for s in onboarding.steps}) == len(onboarding.steps)
    assert all(s.seconds > 0 and s.platform_id.endswith(session.run_tag) for s in onboarding.steps)


async def test_every_submitted_task_is_worked_paid_and_released(
    fake_services: FakeServices,
) -> None:
    record = await _session(fake_services, FAST, Control()).run()
    report = build_report(record)

    assert 50 <= report["tasks_submitted"] <= 70  # 20/s for 3 s
    assert report["tasks_completed"] == report["tasks_submitted"]
    assert report["tasks_pending_at_end"] == report["tasks_lost"] == 0
    assert report["results_released"] == report["tasks_completed"]
    assert report["ledger_balanced"] is True
    assert report["completed"] is True
    assert set(report["regions"]) == {"us", "ke"}
    for region in report["regions"].values():
        assert region["workers"] == 3
        assert region["tasks_completed"] > 0
        assert region["eligible_worker_seconds"] > 0
    assert sum(r["earnings_usd"] for r in report["regions"].values()) > 0
    assert report["pay_rate_spread_usd"] == 0.0
    assert report["jain_index"] is not None
    json.dumps(report, allow_nan=False)


async def test_power_cuts_hit_only_their_region_and_leases_resume(
    fake_services: FakeServices,
) -> None:
    session = _session(fake_services, FAST, Control())
    record = await session.run()
    cuts = {t.profile.region: 0 for t in record.workers}
    for tally in record.workers:
        cuts[tally.profile.region] += tally.power_cuts
    assert cuts["us"] == 0
    assert cuts["ke"] > 0
    report = build_report(record)
    assert report["load"]["power_cuts"] == cuts["ke"]
    # A cut mid-lease comes back to the same lease, and the task still completes.
    assert fake_services.world.resumed == report["load"]["resumed_leases"]
    assert report["tasks_lost"] == 0


async def test_declines_are_seeded_and_cost_no_task(fake_services: FakeServices) -> None:
    config = dataclasses.replace(FAST, decline_share=0.3, power_cut_workers=0)
    record = await _session(fake_services, config, Control()).run()
    report = build_report(record)
    assert report["load"]["declines"] > 0
    assert report["tasks_completed"] == report["tasks_submitted"]


async def test_a_stop_ends_submitting_early_and_a_failure_marks_the_run(
    fake_services: FakeServices,
) -> None:
    control = Control()
    config = dataclasses.replace(FAST, duration_s=None)

    async def fail_soon() -> None:
        await asyncio.sleep(1.0)
        control.failures.append("payroll died with exit code 1")
        control.stop.set()
        control.hurry.set()

    stopper = asyncio.create_task(fail_soon())
    record = await _session(fake_services, config, control).run()
    await stopper
    report = build_report(record)
    assert record.duration_s < 2.0
    assert report["completed"] is False
    assert report["errors"] == ["payroll died with exit code 1"]
