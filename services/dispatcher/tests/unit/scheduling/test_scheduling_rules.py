"""The fair scheduler's rules one at a time, through the DispatchPolicy contract: windows in the
worker's own fixed UTC offset, default quiet hours, deadline feasibility, earliest deadline
first, a waking region served within one round, outcomes that cost the worker nothing."""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st
from scheduling_oracle import new_policy, utc_of_local

from dispatcher.domain.scheduling.policy import (
    DAY_S,
    DispatchPolicy,
    TaskSpec,
    Window,
    WorkerProfile,
)

HOUR = 3600.0


def worker(
    worker_id: str,
    region: str = "north",
    offset_s: int = 0,
    windows: tuple[Window, ...] = (Window(0, 24 * 60),),
    skills: frozenset[str] = frozenset(),
) -> WorkerProfile:
    return WorkerProfile(worker_id, region, offset_s, windows, skills)


def task(
    task_id: str,
    now: float,
    effort_s: float = 300.0,
    deadline_in_s: float | None = None,
    pool: str = "label",
    skills: tuple[str, ...] = (),
) -> TaskSpec:
    deadline = None if deadline_in_s is None else now + deadline_in_s
    return TaskSpec(task_id, pool, "lab", effort_s, now, deadline, skills)


def offered(policy: DispatchPolicy, now: float) -> dict[str, str]:
    """worker -> task of the offers made now."""
    return {d.worker_id: d.task_id for d in policy.decide(now)}


# -- windows -------------------------------------------------------------------------------


def test_default_quiet_hours_keep_a_worker_without_windows_unoffered_from_22_to_07() -> None:
    policy = new_policy()
    offset = 5 * 3600 + 1800  # India: no daylight saving, half-hour offset
    policy.worker_online(worker("asha", offset_s=offset, windows=()), 0.0)
    night = utc_of_local(1, 22.0, offset)
    policy.submit(task("t1", night), night)
    for hour in (22.0, 23.5, 26.0, 30.99):  # 22:00 to 06:59 local
        at = utc_of_local(1, hour, offset)
        assert policy.decide(at) == [], f"offered at {hour % 24:.2f} local"
    morning = utc_of_local(2, 7.0, offset)
    assert offered(policy, morning) == {"asha": "t1"}


@given(
    offset_min=st.integers(-12 * 60, 14 * 60),
    start_min=st.integers(0, 24 * 60 - 1),
    length_min=st.integers(1, 23 * 60),
    day=st.integers(0, 400),
)
def test_a_window_opens_exactly_at_its_local_minute_whatever_the_fixed_offset(
    offset_min: int, start_min: int, length_min: int, day: int
) -> None:
    """Offsets are plain seconds, so there is no daylight saving to get wrong: a window opens
    at its local minute on every day of the year, and not a second before."""
    end_min = (start_min + length_min) % (24 * 60)
    profile = worker("kai", offset_s=offset_min * 60, windows=(Window(start_min, end_min),))
    # In whole seconds: start_min / 60 hours would carry float error into the expected time.
    opens = day * 86_400.0 + start_min * 60.0 - profile.utc_offset_s
    policy = new_policy()
    policy.worker_online(profile, opens - HOUR)
    policy.submit(task("t1", opens - HOUR, effort_s=60.0), opens - HOUR)
    assert policy.decide(opens - 1.0) == []
    wakeup = policy.next_wakeup(opens - 1.0)
    assert wakeup is not None
    assert wakeup <= opens
    assert offered(policy, opens) == {"kai": "t1"}


def test_a_window_that_wraps_midnight_is_open_on_both_sides() -> None:
    policy = new_policy()
    policy.worker_online(worker("nocturne", windows=(Window(22 * 60, 2 * 60),)), 0.0)
    policy.submit(task("t1", 0.0), 0.0)
    policy.submit(task("t2", 0.0), 0.0)
    [first] = policy.decide(1.5 * HOUR)  # 01:30, inside the window opened the night before
    policy.accepted("nocturne", first.task_id, 1.5 * HOUR)
    policy.completed("nocturne", first.task_id, 300.0, 1.6 * HOUR)
    assert policy.decide(2 * HOUR) == []  # 02:00: closed
    assert policy.decide(21.9 * HOUR) == []
    assert len(policy.decide(22 * HOUR)) == 1


# -- deadlines -----------------------------------------------------------------------------


def test_a_task_that_cannot_be_finished_before_its_deadline_is_never_offered() -> None:
    policy = new_policy()
    policy.worker_online(worker("ana"), 0.0)
    policy.submit(task("late", 0.0, effort_s=3600.0, deadline_in_s=1800.0), 0.0)
    assert policy.decide(0.0) == []
    policy.submit(task("tight", 0.0, effort_s=1800.0, deadline_in_s=1800.0), 0.0)
    assert offered(policy, 0.0) == {"ana": "tight"}


def test_the_earliest_deadline_goes_first_when_there_is_one_worker_for_two_tasks() -> None:
    policy = new_policy()
    policy.submit(task("relaxed", 0.0, deadline_in_s=20 * HOUR), 0.0)
    policy.submit(task("urgent", 10.0, deadline_in_s=HOUR), 10.0)
    policy.worker_online(worker("ana"), 20.0)
    assert offered(policy, 20.0) == {"ana": "urgent"}


def test_work_that_cannot_wait_for_a_sleeping_region_goes_to_the_awake_one_now() -> None:
    """Holding for a region that is asleep never costs a deadline: a task that must start
    before the sleeping region wakes is offered to the awake region at once."""
    policy = new_policy()
    asleep_until_8 = (Window(8 * 60, 20 * 60),)
    for index in range(5):
        policy.worker_known(worker(f"s{index}", "south", windows=asleep_until_8), 0.0)  # type: ignore[attr-defined]
    policy.worker_online(worker("a0", "north"), 0.0)
    now = 2 * HOUR  # south wakes at 08:00 UTC
    policy.submit(task("t1", now, effort_s=600.0, deadline_in_s=2 * HOUR), now)
    assert offered(policy, now) == {"a0": "t1"}


# -- regions -------------------------------------------------------------------------------


def test_a_region_that_comes_online_gets_its_first_offer_in_the_first_round() -> None:
    """Even a region that was well served before it slept: it is not left waiting once awake
    while work it could do is queued."""
    policy = new_policy()
    day = (Window(0, 12 * 60),)
    night = (Window(12 * 60, 24 * 60),)
    north = [worker(f"n{i}", "north", windows=day) for i in range(3)]
    south = [worker(f"s{i}", "south", windows=night) for i in range(3)]
    for profile in north + south:
        policy.worker_online(profile, 0.0)
    # North works all morning; south sleeps.
    now, serial = 0.0, 0
    while now < 12 * HOUR:
        for _ in range(3):
            serial += 1
            policy.submit(task(f"m{serial}", now, effort_s=600.0, deadline_in_s=48 * HOUR), now)
        for decision in policy.decide(now):
            policy.accepted(decision.worker_id, decision.task_id, now)
            policy.completed(decision.worker_id, decision.task_id, 600.0, now + 1)
        now += 600.0
    # Noon: south wakes with plenty queued.
    for i in range(10):
        policy.submit(task(f"e{i}", now, effort_s=600.0, deadline_in_s=48 * HOUR), now)
    first_round = offered(policy, 12 * HOUR)
    assert any(worker_id.startswith("s") for worker_id in first_round), first_round


def test_a_worker_in_each_of_two_equal_regions_shares_the_work() -> None:
    policy = new_policy()
    policy.worker_online(worker("n0", "north"), 0.0)
    policy.worker_online(worker("s0", "south"), 0.0)
    work = {"n0": 0, "s0": 0}
    now = 0.0
    for serial in range(200):
        policy.submit(task(f"t{serial}", now, effort_s=60.0), now)
        for decision in policy.decide(now):
            work[decision.worker_id] += 1
            policy.accepted(decision.worker_id, decision.task_id, now)
            policy.completed(decision.worker_id, decision.task_id, 60.0, now + 30)
        now += 60.0
    assert abs(work["n0"] - work["s0"]) <= 2, work


# -- outcomes ------------------------------------------------------------------------------


def test_a_decline_costs_nothing_and_the_task_goes_to_someone() -> None:
    policy = new_policy()
    policy.worker_online(worker("ana"), 0.0)
    policy.submit(task("t1", 0.0), 0.0)
    [first] = policy.decide(0.0)
    policy.declined(first.worker_id, first.task_id, 1.0)
    stats = policy.stats()
    assert stats.charged_effort_s - stats.refunded_effort_s == 0.0
    policy.worker_online(worker("ben"), 2.0)
    again = policy.decide(2.0)
    assert [d.task_id for d in again] == ["t1"]


def test_a_lost_lease_requeues_the_task_and_the_worker_can_work_again() -> None:
    policy = new_policy()
    policy.worker_online(worker("ana"), 0.0)
    policy.submit(task("t1", 0.0), 0.0)
    assert offered(policy, 0.0) == {"ana": "t1"}
    policy.accepted("ana", "t1", 1.0)
    policy.worker_offline("ana", 10.0)
    policy.worker_online(worker("ben"), 11.0)
    assert policy.decide(11.0) == []  # the task is reserved during the grace period
    policy.lease_lost("ana", "t1", 910.0)
    assert offered(policy, 910.0) == {"ben": "t1"}
    policy.worker_online(worker("ana"), 920.0)
    policy.submit(task("t2", 920.0), 920.0)
    assert offered(policy, 920.0) == {"ana": "t2"}


def test_a_worker_offline_is_never_offered_and_resubmission_is_idempotent() -> None:
    policy = new_policy()
    policy.worker_online(worker("ana"), 0.0)
    policy.worker_offline("ana", 1.0)
    spec = task("t1", 1.0)
    policy.submit(spec, 1.0)
    policy.submit(spec, 1.0)
    assert policy.decide(2.0) == []
    policy.worker_online(worker("ana"), 3.0)
    policy.worker_online(worker("ben"), 3.0)
    assert [d.task_id for d in policy.decide(3.0)] == ["t1"]
    assert policy.cancel("t1", 4.0) is False  # offered, not queued
    assert DAY_S == 86_400


# -- quality -------------------------------------------------------------------------------


def test_a_worker_kept_out_of_a_pool_gets_its_work_only_when_let_back_in() -> None:
    policy = new_policy()
    kept_out = replace(worker("ana"), excluded_pools=frozenset({"label"}))
    policy.worker_online(kept_out, 0.0)
    policy.submit(task("t1", 0.0, pool="label"), 0.0)
    policy.submit(task("t2", 0.0, pool="rate"), 0.0)
    # Only the other pool's task: the exclusion is per pool, not per worker.
    assert offered(policy, 1.0) == {"ana": "t2"}
    policy.completed("ana", "t2", 60.0, 2.0)
    assert offered(policy, 3.0) == {}
    policy.worker_online(worker("ana"), 4.0)  # scoring let her back in
    assert offered(policy, 5.0) == {"ana": "t1"}


def test_an_excluded_workers_pool_still_goes_to_everyone_else() -> None:
    policy = new_policy()
    policy.worker_online(replace(worker("ana"), excluded_pools=frozenset({"label"})), 0.0)
    policy.worker_online(worker("ben"), 0.0)
    policy.submit(task("t1", 0.0), 0.0)
    assert offered(policy, 1.0) == {"ben": "t1"}
