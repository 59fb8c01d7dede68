"""The baselines, driven directly through the DispatchPolicy contract."""

import dataclasses
import random
import sys
import types

import pytest

from dispatcher.domain.scheduling.policy import TaskSpec, Window, WorkerProfile
from fairtask_sim import policies
from fairtask_sim.policies import PolicyUnavailableError, make_policy
from fairtask_sim.policies.fcfs import FirstComeFirstServed
from fairtask_sim.policies.poll import PolledQueue
from fairtask_sim.scenario import Scenario

H = 3600.0
DAY = (Window(8 * 60, 20 * 60),)


def worker(
    worker_id: str,
    region: str = "a",
    latency_ms: float = 50.0,
    *,
    night_poller: bool = False,
    opt_in: bool = False,
    cap_s: float = 4 * H,
) -> WorkerProfile:
    return WorkerProfile(
        worker_id=worker_id,
        region=region,
        utc_offset_s=0,
        windows=DAY,
        skills=frozenset({"en"}),
        sensitive_opt_in=opt_in,
        exposure_cap_s=cap_s,
        link_latency_ms=latency_ms,
        night_poller=night_poller,
    )


def task(task_id: str, at: float, *, effort_s: float = 60.0, sensitive: bool = False) -> TaskSpec:
    return TaskSpec(task_id, "pool", "lab", effort_s, at, at + 10 * H, ("en",), sensitive)


def test_fcfs_the_fastest_link_wins() -> None:
    policy = FirstComeFirstServed(random.Random(3), race_jitter_ms=10)
    for index in range(20):
        policy.worker_online(worker(f"slow-{index}", "slow", 200), 9 * H)
    policy.worker_online(worker("fast", "fast", 20), 9 * H)
    policy.submit(task("t1", 9 * H), 9 * H)
    [decision] = policy.decide(9 * H)
    assert decision.worker_id == "fast"
    assert decision.expires_at == 9 * H + 120
    policy.submit(task("t2", 9 * H), 9 * H)
    assert policy.decide(9 * H)[0].worker_id.startswith("slow-")


def test_fcfs_night_pollers_watch_outside_their_window() -> None:
    policy = FirstComeFirstServed(random.Random(3))
    policy.worker_online(worker("sleeper"), 2 * H)
    policy.submit(task("t1", 2 * H), 2 * H)
    assert policy.decide(2 * H) == []
    assert policy.next_wakeup(2 * H) == 8 * H
    policy.worker_online(worker("poller", night_poller=True), 2.5 * H)
    [decision] = policy.decide(2.5 * H)
    assert decision.worker_id == "poller"


def test_requeued_work_keeps_its_place_in_line() -> None:
    policy = PolledQueue(random.Random(1))
    policy.worker_online(worker("w"), 9 * H)
    policy.submit(task("old", 9 * H), 9 * H)
    policy.submit(task("new", 9 * H + 5), 9 * H + 5)
    [first] = policy.decide(9 * H + 5)
    assert first.task_id == "old"
    policy.declined("w", "old", 9 * H + 10)
    decisions = []
    now = 9 * H + 10
    while not decisions:
        decisions = policy.decide(now)
        now = policy.next_wakeup(now) or now + 1
    assert decisions[0].task_id == "old"
    policy.accepted("w", "old", now)
    policy.lease_lost("w", "old", now + 60)
    assert policy.cancel("old", now + 61)
    assert not policy.cancel("old", now + 62)


def test_poll_only_inside_windows_and_the_oldest_first() -> None:
    policy = PolledQueue(random.Random(1))
    policy.submit(task("a", 1 * H), 1 * H)
    policy.submit(task("b", 2 * H), 2 * H)
    policy.worker_online(worker("w"), 3 * H)
    assert policy.decide(3 * H) == []
    assert policy.next_wakeup(3 * H) == 8 * H
    [decision] = policy.decide(8 * H)
    assert decision.task_id == "a"
    policy.accepted("w", "a", 8 * H)
    policy.completed("w", "a", 50.0, 8 * H + 50)
    assert policy.decide(8 * H + 50)[0].task_id == "b"
    assert policy.stats().offers == 2


def test_poll_a_task_for_idle_pollers_is_taken_within_one_interval() -> None:
    policy = PolledQueue(random.Random(7), poll_interval_s=(5, 30))
    policy.worker_online(worker("w"), 9 * H)
    assert policy.decide(9 * H) == []
    policy.submit(task("t", 9 * H + 1), 9 * H + 1)
    assert policy.decide(9 * H + 1) == []
    wakeup = policy.next_wakeup(9 * H + 1)
    assert wakeup is not None
    assert 9 * H + 1 < wakeup <= 9 * H + 31
    assert [d.task_id for d in policy.decide(wakeup)] == ["t"]


def test_the_exposure_cap_is_respected() -> None:
    policy = FirstComeFirstServed(random.Random(1))
    policy.worker_online(worker("w", opt_in=True, cap_s=H), 9 * H)
    policy.worker_online(worker("x"), 9 * H)
    now = 9 * H
    for index in range(2):
        policy.submit(task(f"s{index}", now, effort_s=0.6 * H, sensitive=True), now)
    [first] = policy.decide(now)
    assert first.worker_id == "w"
    policy.accepted("w", first.task_id, now)
    policy.completed("w", first.task_id, 0.6 * H, now + 0.6 * H)
    # A second 0.6 h would take the day to 1.2 h, over the 1 h cap; x never opted in.
    assert policy.decide(now + 0.6 * H) == []


def test_offline_withdraws_the_offer() -> None:
    policy = FirstComeFirstServed(random.Random(1))
    policy.worker_online(worker("w"), 9 * H)
    policy.submit(task("t", 9 * H), 9 * H)
    [decision] = policy.decide(9 * H)
    policy.worker_offline("w", 9 * H + 1)
    policy.expired("w", "t", 9 * H + 1)
    policy.worker_online(worker("w"), 9 * H + 2)
    assert [d.task_id for d in policy.decide(9 * H + 2)] == [decision.task_id]


def test_registry(tiny: Scenario) -> None:
    assert make_policy("fcfs", tiny, 1).name == "fcfs"
    assert make_policy("poll", tiny, 1).name == "poll"


def test_fair_is_built_with_the_scenario_offer_timeout(
    tiny: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    @dataclasses.dataclass(frozen=True)
    class FairConfig:
        offer_ttl_s: float = 120.0

    class WithConfig(PolledQueue):
        def __init__(self, config: FairConfig = FairConfig()) -> None:
            super().__init__(random.Random(1), config.offer_ttl_s)
            self.config = config

    class WithTtl(PolledQueue):
        def __init__(self, offer_ttl_s: float = 120.0) -> None:
            super().__init__(random.Random(1), offer_ttl_s)
            self.ttl = offer_ttl_s

    module = types.ModuleType("fake_fair")
    module.FairConfig = FairConfig  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_fair", module)
    monkeypatch.setattr(
        policies, "FAIR_SCHEDULER_PATHS", ("nowhere.FairScheduler", "fake_fair.FairScheduler")
    )
    short = dataclasses.replace(
        tiny, behaviour=dataclasses.replace(tiny.behaviour, offer_timeout_s=60)
    )
    module.FairScheduler = WithConfig  # type: ignore[attr-defined]
    assert make_policy("fair", short, 1).config == FairConfig(60)  # type: ignore[attr-defined]
    module.FairScheduler = WithTtl  # type: ignore[attr-defined]
    assert make_policy("fair", short, 1).ttl == 60  # type: ignore[attr-defined]
    monkeypatch.setattr(policies, "FAIR_SCHEDULER_PATHS", ("fake_fair.Missing",))
    assert not policies.fair_available()
    with pytest.raises(PolicyUnavailableError, match=r"fake_fair\.Missing"):
        make_policy("fair", short, 1)


def test_unknown_policy(tiny: Scenario) -> None:
    with pytest.raises(PolicyUnavailableError, match="unknown policy 'lottery'"):
        make_policy("lottery", tiny, 1)
