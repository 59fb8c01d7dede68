"""Gold tasks released into their pool at most at the mixing rate, and never held for ever."""

from dispatcher.domain.scheduling.gold_mixing import GoldMixing
from dispatcher.domain.scheduling.policy import TaskSpec, Window, WorkerProfile
from dispatcher.domain.scheduling.round_robin import RoundRobinPolicy


def _task(task_id: str, gold: bool = False, pool: str = "label") -> TaskSpec:
    return TaskSpec(task_id, pool, "lab", 60.0, 0.0, gold=gold)


def _worker(worker_id: str) -> WorkerProfile:
    return WorkerProfile(worker_id, "north", 0, (Window(0, 24 * 60),))


def _served(policy: GoldMixing, now: float) -> list[str]:
    """Serves every queued task to one worker, one at a time; the tasks in order."""
    served = []
    while decisions := policy.decide(now):
        [decision] = decisions
        served.append(decision.task_id)
        policy.accepted(decision.worker_id, decision.task_id, now)
        policy.completed(decision.worker_id, decision.task_id, 1.0, now)
    return served


def test_gold_goes_out_at_most_at_the_rate_among_real_work() -> None:
    policy = GoldMixing(RoundRobinPolicy(120.0), rate=0.1, idle_release_s=60.0)
    policy.worker_online(_worker("ana"), 0.0)
    for i in range(3):
        policy.submit(_task(f"g{i}", gold=True), 0.0)
    for i in range(20):
        policy.submit(_task(f"t{i}"), 1.0)
    served = _served(policy, 2.0)
    gold = [i for i, task in enumerate(served) if task.startswith("g")]
    # 2 gold among 20 ordinary keeps the share at or below 10%; the third waits.
    assert len(gold) == 2
    assert policy.held == 1
    assert len(gold) / len(served) <= 0.1


def test_gold_is_released_when_its_pool_has_had_no_other_work_for_a_while() -> None:
    policy = GoldMixing(RoundRobinPolicy(120.0), rate=0.02, idle_release_s=60.0)
    policy.worker_online(_worker("ana"), 0.0)
    policy.submit(_task("t0"), 0.0)
    policy.submit(_task("g0", gold=True), 0.0)
    assert _served(policy, 1.0) == ["t0"]
    assert policy.next_wakeup(1.0) == 60.0
    assert _served(policy, 59.0) == []
    assert _served(policy, 60.0) == ["g0"]
    assert policy.held == 0


def test_a_held_gold_task_can_be_cancelled_and_other_pools_are_not_held_back() -> None:
    policy = GoldMixing(RoundRobinPolicy(120.0), rate=0.02, idle_release_s=60.0)
    policy.worker_online(_worker("ana"), 0.0)
    policy.submit(_task("t0", pool="a"), 0.0)
    policy.submit(_task("g0", gold=True, pool="a"), 0.0)
    assert policy.cancel("g0", 1.0)
    assert policy.held == 0
    policy.submit(_task("t1", pool="b"), 1.0)
    assert _served(policy, 2.0) == ["t0", "t1"]


def test_a_rate_of_zero_mixes_nothing_in_and_holds_nothing_back() -> None:
    policy = GoldMixing(RoundRobinPolicy(120.0), rate=0.0, idle_release_s=60.0)
    policy.worker_online(_worker("ana"), 0.0)
    policy.submit(_task("g0", gold=True), 0.0)
    assert _served(policy, 1.0) == ["g0"]
