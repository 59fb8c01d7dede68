"""What the scheduler keeps of a worker who left goes once they have been away long enough, so
a process that runs for weeks does not keep every worker it ever saw; a worker who comes back
is served like a new one, and nothing still waiting for a worker is dropped with them."""

import pytest

from dispatcher.domain.scheduling.exposure import Exposure
from dispatcher.domain.scheduling.fair_share import FairConfig, FairScheduler
from dispatcher.domain.scheduling.policy import TaskSpec, Window, WorkerProfile
from dispatcher.domain.scheduling.pools import Crew, Pool, Worker

AFTER_S = 100.0


def worker(worker_id: str, windows: tuple[Window, ...] = (Window(0, 24 * 60),)) -> WorkerProfile:
    return WorkerProfile(worker_id, "north", 0, windows)


def task(task_id: str, now: float) -> TaskSpec:
    return TaskSpec(task_id, "label", "lab", 60.0, now, None, ())


def scheduler() -> FairScheduler:
    return FairScheduler(config=FairConfig(forget_offline_after_s=AFTER_S))


def test_a_worker_away_for_the_time_set_is_forgotten_and_served_on_return() -> None:
    policy = scheduler()
    policy.worker_online(worker("ana"), 0.0)
    policy.worker_online(worker("ben"), 0.0)
    policy.worker_offline("ana", 10.0)

    policy.decide(10.0 + AFTER_S - 1)
    assert policy.known_workers() == 2
    policy.decide(10.0 + AFTER_S)
    assert policy.known_workers() == 1  # ben is online

    policy.worker_online(worker("ana"), 200.0)
    policy.worker_offline("ben", 200.0)
    policy.submit(task("t1", 200.0), 200.0)
    assert [(d.worker_id, d.task_id) for d in policy.decide(200.0)] == [("ana", "t1")]


def test_a_worker_back_within_the_time_is_kept() -> None:
    policy = scheduler()
    policy.worker_online(worker("ana"), 0.0)
    policy.worker_offline("ana", 10.0)
    policy.worker_online(worker("ana"), 50.0)

    policy.decide(10.0 + AFTER_S)

    assert policy.known_workers() == 1
    policy.worker_offline("ana", 60.0)  # away again: counted from now
    policy.decide(60.0 + AFTER_S - 1)
    assert policy.known_workers() == 1
    policy.decide(60.0 + AFTER_S)
    assert policy.known_workers() == 0


def test_a_worker_whose_lease_waits_for_them_is_kept_until_it_ends() -> None:
    policy = scheduler()
    policy.worker_online(worker("ana"), 0.0)
    policy.submit(task("t1", 0.0), 0.0)
    assert [d.worker_id for d in policy.decide(0.0)] == ["ana"]
    policy.accepted("ana", "t1", 1.0)
    policy.worker_offline("ana", 10.0)  # the lease waits out its grace period

    policy.decide(10.0 + AFTER_S)
    assert policy.known_workers() == 1

    policy.lease_lost("ana", "t1", 150.0)  # grace over: the task waits for someone else
    policy.decide(10.0 + 2 * AFTER_S - 1)
    assert policy.known_workers() == 1  # looked at again a whole period after the first look
    policy.decide(10.0 + 2 * AFTER_S)
    assert policy.known_workers() == 0


def test_a_window_change_due_after_the_worker_was_forgotten_is_skipped() -> None:
    policy = scheduler()
    # Online now, their window closes at 00:30 (a change the scheduler wakes up for).
    policy.worker_online(worker("ana", (Window(0, 30),)), 0.0)
    policy.worker_offline("ana", 10.0)
    policy.decide(10.0 + AFTER_S)
    assert policy.known_workers() == 0

    assert policy.decide(1800.0) == []
    assert policy.decide(86_400.0) == []


def test_a_forgotten_worker_no_longer_counts_in_when_their_region_wakes() -> None:
    pool = Pool("label", frozenset(), False)
    crew = Crew("north", frozenset(), False, frozenset())
    pool.adopt(crew)
    region = pool.regions["north"]
    mornings = (Window(8 * 60, 12 * 60),)
    ana, ben = (
        Worker(WorkerProfile(w, "north", 0, mornings), Exposure(), crew) for w in ("ana", "ben")
    )
    pool.learn(ana)
    pool.learn(ben)
    wakes_at, window_s, workers = pool.forecast(region, 0.0)
    assert (wakes_at, window_s, workers) == (8 * 3600.0, 4 * 3600.0, 2)

    pool.unlearn("ana")
    assert pool.forecast(region, 0.0)[2] == 1
    pool.unlearn("ana")  # twice: nothing more to forget
    pool.unlearn("ben")
    assert pool.forecast(region, 0.0)[2] == 0


def test_a_worker_who_comes_and_goes_is_forgotten_only_after_their_last_departure() -> None:
    policy = scheduler()
    policy.worker_online(worker("ben"), 0.0)
    policy.worker_offline("ben", 0.0)  # ben left for good at once
    for second in range(1, 1_000):  # ana's connection drops and comes back all the time
        policy.worker_online(worker("ana"), float(second))
        policy.worker_offline("ana", second + 0.5)

    # One entry each waits to be forgotten, however often they left.
    assert len(policy._offline) == 2
    policy.decide(999.5 + AFTER_S - 1)
    assert policy.known_workers() == 1  # ben forgotten, ana not yet
    policy.decide(999.5 + AFTER_S)
    assert policy.known_workers() == 0
    assert not policy._offline


def test_a_worker_the_caller_registered_is_kept_however_long_away() -> None:
    policy = scheduler()
    policy.worker_known(worker("ana"))  # the whole workforce, known before anyone connects
    policy.worker_online(worker("ana"), 0.0)
    policy.worker_offline("ana", 10.0)

    policy.decide(10.0 + 10 * AFTER_S)

    assert policy.known_workers() == 1


def test_the_time_set_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        FairConfig(forget_offline_after_s=0.0)
