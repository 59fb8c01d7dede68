"""The simulation engine: deterministic, conserves tasks, measures what it claims to."""

import dataclasses
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.domain.scheduling.policy import OfferDecision, TaskSpec
from fairtask_sim.compare import run_one
from fairtask_sim.engine import PolicyContractError, Simulation
from fairtask_sim.policies import fair_available, make_policy
from fairtask_sim.policies.poll import PolledQueue
from fairtask_sim.population import Outage, build_population
from fairtask_sim.report import build_report
from fairtask_sim.scenario import Scenario

H = 3600.0
FAIR_AVAILABLE = fair_available()
POLICIES = ["fcfs", "poll", *(["fair"] if FAIR_AVAILABLE else [])]
needs_fair = pytest.mark.skipif(not FAIR_AVAILABLE, reason="the fair scheduler has not landed")


def without_wall(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("wall_seconds", "cpu_seconds")}


@pytest.mark.parametrize("policy", POLICIES)
def test_same_seed_same_run(tiny: Scenario, policy: str) -> None:
    first, second = run_one(tiny, policy), run_one(tiny, policy)
    assert without_wall(first) == without_wall(second)
    assert without_wall(run_one(tiny, policy, seed=99)) != without_wall(first)


@pytest.mark.parametrize("policy", POLICIES)
def test_tasks_are_conserved(tiny: Scenario, policy: str) -> None:
    report = run_one(tiny, policy)
    assert report["tasks_lost"] == 0
    assert report["tasks_cancelled"] > 0
    assert report["tasks_completed"] > 0
    assert (
        report["tasks_completed"]
        + report["tasks_pending_at_end"]
        + report["tasks_cancelled"]
        + report["tasks_expired"]
        == report["tasks_submitted"]
    )
    assert report["below_floor_payments"] == 0
    assert report["exposure_cap_exceeded"] == 0


@pytest.mark.parametrize("policy", POLICIES)
def test_report_has_the_design_fields(tiny: Scenario, policy: str) -> None:
    report = run_one(tiny, policy)
    for key in (
        "policy",
        "scenario",
        "regions",
        "workers",
        "pools",
        "jain_index",
        "max_min_share_ratio",
        "worker_jain_index",
        "deadline_misses",
        "feasible_deadline_misses",
        "pay_rate_spread_usd",
        "below_floor_payments",
        "tasks_lost",
        "tasks_pending_at_end",
        "exposure_cap_exceeded",
        "first_offer_delay_s",
        "wall_seconds",
    ):
        assert key in report
    region = report["regions"]["early"]
    assert set(region) >= {
        "eligible_worker_seconds",
        "work_seconds_assigned",
        "tasks_completed",
        "earnings_usd",
        "paid_seconds",
        "pushes_outside_window",
        "night_work_seconds",
        "effective_hourly_usd",
    }
    assert set(report["pools"]) == {"rating", "sw-audio", "gore"}
    # Only the region with Swahili speakers is in the sw pool.
    assert set(report["pools"]["sw-audio"]["regions"]) == {"early"}
    assert report["pools"]["gore"]["workers"] == 6 + 3
    assert len(report["workers"]) == 22


def quiet(data: dict[str, Any]) -> dict[str, Any]:
    """No drift around windows, no noise in effort: figures one can work out by hand."""
    data["behaviour"] = {
        "early_connect_share": 0,
        "linger_share": 0,
        "late_start_share": 0,
        "work_noise_sigma": 0,
        "think_seconds_mean": 0,
    }
    return data


def one_region(workers: int) -> dict[str, Any]:
    return {
        "name": "hand",
        "seed": 1,
        "duration_hours": 24,
        "regions": [
            {
                "name": "r",
                "utc_offset_hours": 2,
                "workers": workers,
                "availability": ["08:00-12:00"],
                "skills": {"en": 1.0},
            },
        ],
        "platforms": [
            {
                "name": "p",
                "task_types": [
                    {
                        "name": "job",
                        "arrivals_per_hour": 0,
                        "bursts": [{"at_utc": "06:30", "count": 1}],
                        "effort_seconds": 1800,
                        "deadline_hours": 20,
                        "price_usd": 10.0,
                        "skills": ["en"],
                    },
                ],
            },
        ],
    }


def test_eligible_seconds_by_hand(make_scenario: Callable[[dict[str, Any]], Scenario]) -> None:
    scenario = make_scenario(quiet(one_region(4)))
    population = build_population(scenario, 1)
    window = (6 * H, 10 * H)  # 08:00-12:00 at UTC+2
    presence = (
        (window,),  # cut off 07:00-08:00 by an outage: 3 h
        ((5 * H, 11 * H),),  # connected early and late: still only the window counts
        (),  # never shows up
        (window,),
    )
    population = dataclasses.replace(
        population,
        presence=presence,
        outages=(Outage(0, 7 * H, 8 * H, (0,)),),
    )
    result = Simulation(scenario, make_policy("poll", scenario, 1), 1, population).run()
    report = build_report(result)
    assert [w["eligible_seconds"] for w in report["workers"]] == [3 * H, 4 * H, 0, 4 * H]
    assert report["regions"]["r"]["eligible_worker_seconds"] == 11 * H
    assert report["timeline"]["hours"][:3] == [1.0, 2.0, 3.0]


def lone_worker_run(
    make_scenario: Callable[[dict[str, Any]], Scenario], outage_minutes: float
) -> dict[str, Any]:
    scenario = make_scenario(quiet(one_region(1)))
    population = build_population(scenario, 1)
    population = dataclasses.replace(
        population,
        speed=(1.0,),
        presence=(((6 * H, 10 * H),),),
        outages=(Outage(0, 6.75 * H, 6.75 * H + outage_minutes * 60, (0,)),),
    )
    result = Simulation(scenario, make_policy("poll", scenario, 1), 1, population).run()
    return build_report(result)


def test_a_short_outage_keeps_the_lease(make_scenario: Callable[..., Scenario]) -> None:
    report = lone_worker_run(make_scenario, outage_minutes=10)
    assert report["leases_lost"] == 0
    assert report["tasks_completed"] == 1
    worker = report["workers"][0]
    assert worker["paid_seconds"] == 1800
    assert worker["earnings_usd"] == 10.0


def test_a_long_outage_loses_the_lease_and_pays_the_time(
    make_scenario: Callable[..., Scenario],
) -> None:
    report = lone_worker_run(make_scenario, outage_minutes=60)
    assert report["leases_lost"] == 1
    # Requeued, offered again once the power is back, then completed.
    assert report["tasks_completed"] == 1
    worker = report["workers"][0]
    # Up to 15 minutes worked before the cut (the poll came within 30 s of 06:30, the power
    # went at 06:45), paid at the $12 floor; then the whole task at its price.
    before_cut = worker["paid_seconds"] - 1800
    assert 870 <= before_cut <= 900
    assert worker["earnings_usd"] == pytest.approx(10.0 + 12 * before_cut / 3600, abs=1e-5)


def test_fcfs_works_night_pollers_outside_their_window(tiny: Scenario) -> None:
    fcfs, poll = run_one(tiny, "fcfs"), run_one(tiny, "poll")
    assert fcfs["pushes_outside_window"] > 0
    assert fcfs["night_work_seconds"] > 0
    assert poll["pushes_outside_window"] == 0


@needs_fair
def test_fair_never_offers_outside_a_window(tiny: Scenario) -> None:
    fair = run_one(tiny, "fair")
    assert fair["pushes_outside_window"] == 0
    # A region that wakes up to queued work it can do gets an offer in the first round.
    assert (fair["first_offer_delay_max_s"] or 0) <= tiny.behaviour.round_s
    assert fair["exposure_cap_exceeded"] == 0
    assert fair["feasible_deadline_misses"] == 0
    assert run_one(tiny, "fcfs")["pushes_outside_window"] > 0


class DoubleOffer(PolledQueue):
    """Offers every task it is given twice: the engine must refuse to go on."""

    def submit(self, task: TaskSpec, now: float) -> None:
        super().submit(task, now)
        self._again = task

    def decide(self, now: float) -> list[OfferDecision]:
        decisions = super().decide(now)
        return decisions + decisions[:1]


def test_a_policy_breaking_the_contract_stops_the_run(tiny: Scenario) -> None:
    simulation = Simulation(tiny, DoubleOffer(random.Random(1)))
    with pytest.raises(
        PolicyContractError,
        match=r"offer of rating-0 to early-.* (holds a lease|outstanding offer)",
    ):
        simulation.run()


class Idle(PolledQueue):
    """Never offers anything."""

    def decide(self, now: float) -> list[OfferDecision]:
        return []


@pytest.mark.parametrize(("policy", "delay_s"), [("poll", 0.0), ("idle", 4 * H)])
def test_first_offer_after_waking_up(
    make_scenario: Callable[[dict[str, Any]], Scenario], policy: str, delay_s: float
) -> None:
    data = quiet(one_region(3))
    # Work that arrives at 07:00 local waits for the window that opens at 08:00.
    data["platforms"][0]["task_types"][0]["bursts"] = [{"at_utc": "05:00", "count": 2}]
    scenario = make_scenario(data)
    chosen = Idle(random.Random(1)) if policy == "idle" else make_policy("poll", scenario, 1)
    report = build_report(Simulation(scenario, chosen, 1).run())
    # The region with nothing offered all window long counts the whole window as its delay.
    assert report["first_offer_delay_s"] == {"r": delay_s}
    assert report["wakeups_measured"] == 1


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), policy=st.sampled_from(["fcfs", "poll"]))
def test_books_balance_for_any_seed(tiny: Scenario, seed: int, policy: str) -> None:
    report = run_one(tiny, policy, seed=seed)
    assert report["tasks_lost"] == 0
    assert (
        report["tasks_completed"]
        + report["tasks_pending_at_end"]
        + report["tasks_cancelled"]
        + report["tasks_expired"]
        == report["tasks_submitted"]
    )
    # Nobody is paid below the floor, and the eligible time adds up region by region.
    assert report["below_floor_payments"] == 0
    by_region: dict[str, float] = {}
    for row in report["workers"]:
        by_region[row["region"]] = by_region.get(row["region"], 0.0) + row["eligible_seconds"]
    for name, region in report["regions"].items():
        assert region["eligible_worker_seconds"] == pytest.approx(by_region[name], abs=1.0)
