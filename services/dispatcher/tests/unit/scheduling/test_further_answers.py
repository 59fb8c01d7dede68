"""A further answer to a task never goes to a worker who answered it, and never holds up
the work queued behind it."""

import pytest

from dispatcher.domain.scheduling.fair_share import FairScheduler
from dispatcher.domain.scheduling.policy import DispatchPolicy, TaskSpec, Window, WorkerProfile
from dispatcher.domain.scheduling.round_robin import RoundRobinPolicy


def _task(task_id: str, answered_by: frozenset[str] = frozenset(), at: float = 0.0) -> TaskSpec:
    return TaskSpec(task_id, "label", "lab", 60.0, at, answered_by=answered_by)


def _worker(worker_id: str, region: str = "north") -> WorkerProfile:
    return WorkerProfile(worker_id, region, 0, (Window(0, 24 * 60),))


POLICIES = [
    pytest.param(lambda: FairScheduler(offer_ttl_s=120.0), id="fair"),
    pytest.param(lambda: RoundRobinPolicy(120.0), id="round-robin"),
]


@pytest.mark.parametrize("make", POLICIES)
def test_a_worker_who_answered_is_passed_over_for_the_next(make) -> None:  # type: ignore[no-untyped-def]
    policy: DispatchPolicy = make()
    policy.worker_online(_worker("ana"), 0.0)
    policy.submit(_task("t1#2", answered_by=frozenset({"ana"})), 0.0)
    assert policy.decide(1.0) == []
    policy.worker_online(_worker("ben"), 2.0)
    [decision] = policy.decide(3.0)
    assert (decision.worker_id, decision.task_id) == ("ben", "t1#2")


@pytest.mark.parametrize("make", POLICIES)
def test_work_behind_a_further_answer_goes_to_the_worker_who_gave_the_first(make) -> None:  # type: ignore[no-untyped-def]
    policy: DispatchPolicy = make()
    policy.worker_online(_worker("ana"), 0.0)
    policy.submit(_task("t1#2", answered_by=frozenset({"ana"})), 0.0)
    policy.submit(_task("t2", at=1.0), 1.0)
    policy.submit(_task("t3", at=2.0), 2.0)
    [decision] = policy.decide(3.0)
    assert (decision.worker_id, decision.task_id) == ("ana", "t2")
    policy.accepted("ana", "t2", 3.0)
    policy.completed("ana", "t2", 60.0, 63.0)
    [decision] = policy.decide(63.0)
    assert decision.task_id == "t3"
    # The copy waits for someone else, first in line when they come.
    policy.accepted("ana", "t3", 63.0)
    policy.worker_online(_worker("ben", region="south"), 64.0)
    [decision] = policy.decide(64.0)
    assert (decision.worker_id, decision.task_id) == ("ben", "t1#2")


def test_a_pool_of_further_answers_its_idle_workers_all_gave_offers_nothing() -> None:
    policy = FairScheduler(offer_ttl_s=120.0)
    policy.worker_online(_worker("ana"), 0.0)
    policy.worker_online(_worker("ben"), 0.0)
    for i in range(5):
        policy.submit(_task(f"t{i}#2", answered_by=frozenset({"ana", "ben"}), at=i), float(i))
    assert policy.decide(10.0) == []
    # Nothing was lost while they were passed over: a newcomer gets them in order.
    policy.worker_online(_worker("cai"), 11.0)
    [decision] = policy.decide(11.0)
    assert (decision.worker_id, decision.task_id) == ("cai", "t0#2")
