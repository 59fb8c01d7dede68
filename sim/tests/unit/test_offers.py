"""Offers that people answer: accept after a think, decline, or let expire (the fair policy's
path; both baselines are self-service and skip it)."""

import random
from typing import Any

from dispatcher.domain.scheduling.policy import TaskSpec, WorkerProfile
from fairtask_sim.engine import Simulation
from fairtask_sim.policies.poll import PolledQueue
from fairtask_sim.report import build_report
from fairtask_sim.scenario import Scenario, parse_scenario


class OfferingQueue(PolledQueue):
    name = "offering"
    offers_are_grabs = False


def run(scenario: Scenario) -> dict[str, Any]:
    policy = OfferingQueue(random.Random(2))
    return build_report(Simulation(scenario, policy).run())


def test_declines_and_expiries_requeue_the_task(tiny_data: dict[str, Any]) -> None:
    tiny_data["behaviour"] = {"accept_share": 0.7, "decline_share": 0.2}
    report = run(parse_scenario(tiny_data))
    assert report["declines"] > 0
    assert report["expiries"] > 0
    assert report["tasks_lost"] == 0
    outstanding = report["offers"] - report["leases"] - report["declines"] - report["expiries"]
    # At most one offer per worker can still be open when the run ends.
    assert 0 <= outstanding <= len(report["workers"])
    assert (
        report["tasks_completed"]
        + report["tasks_pending_at_end"]
        + report["tasks_cancelled"]
        + report["tasks_expired"]
        == report["tasks_submitted"]
    )


def test_everyone_accepting_means_no_declines(tiny_data: dict[str, Any]) -> None:
    tiny_data["behaviour"] = {"accept_share": 1.0, "decline_share": 0.0}
    tiny_data["regions"][1]["outages"] = {"per_day": 0, "mean_minutes": 0}
    report = run(parse_scenario(tiny_data))
    assert report["declines"] == 0
    # Offers still lapse when the worker logs off or loses power before answering.
    assert report["expiries"] < report["offers"] / 50


class Forecasting(OfferingQueue):
    """A policy with the optional `worker_known`: it meets the whole workforce at t=0."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.known: list[tuple[str, float]] = []

    def worker_known(self, worker: WorkerProfile, now: float) -> None:
        self.known.append((worker.worker_id, now))


class ForecastingWithoutNow(OfferingQueue):
    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.known: list[str] = []

    def worker_known(self, worker: WorkerProfile) -> None:
        self.known.append(worker.worker_id)


def test_a_forecasting_policy_meets_every_worker_first(tiny: Scenario) -> None:
    with_now, without_now = Forecasting(random.Random(1)), ForecastingWithoutNow(random.Random(1))
    Simulation(tiny, with_now).run()
    Simulation(tiny, without_now).run()
    assert len(with_now.known) == 22
    assert {now for _, now in with_now.known} == {0.0}
    assert without_now.known == [worker_id for worker_id, _ in with_now.known]


class Forgetful(OfferingQueue):
    """Drops every tenth task on the floor."""

    def submit(self, task: TaskSpec, now: float) -> None:
        if not task.task_id.endswith("0"):
            super().submit(task, now)

    def cancel(self, task_id: str, now: float) -> bool:
        return task_id in self._queued and super().cancel(task_id, now)


def test_dropped_tasks_are_lost_or_expired(tiny_data: dict[str, Any]) -> None:
    for task_type in tiny_data["platforms"][0]["task_types"]:
        task_type["cancel_share"] = 0
    report = build_report(Simulation(parse_scenario(tiny_data), Forgetful(random.Random(3))).run())
    # Dropped tasks whose deadline passed before the end count as expired (and missed), the
    # others as lost; the books still balance.
    assert report["tasks_lost"] > 0
    assert report["tasks_expired"] > 0
    assert report["deadline_misses"] >= report["tasks_expired"]
    assert (
        report["tasks_completed"]
        + report["tasks_pending_at_end"]
        + report["tasks_cancelled"]
        + report["tasks_expired"]
        + report["tasks_lost"]
        == report["tasks_submitted"]
    )
