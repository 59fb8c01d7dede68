"""No eligible worker waits unboundedly while others are served.

Setting: R regions of n workers each, all connected and inside their windows from the start,
one pool, and work scarcer than workers (one task per round), so someone is always left idle
and the order matters. A worker is *passed over* each time a task they could take is accepted
by someone else while they sit idle.

The bound k, and why: inside a region the idle worker with the least work charged is offered
first, and a worker charged an offer pays at least e_min. A worker B who is offered ahead of an
idle worker A had no more work than A, and after c = ceil(e_max / e_min) + 1 offers B has more
than A by over e_max, so B cannot pass A again until A is served. Between regions the same holds
one level up: equal regions have equal eligible time, so the region with the least work goes
first, and another region passes A's region at most c times in a row. So A is passed over at
most k = (R * c) * (n * c) times. Declines do not count as being served (the charge is refunded,
no penalty), and they do not let anyone pass A: a decliner is simply asked again.
"""

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduling_oracle import new_policy

from dispatcher.domain.scheduling.policy import TaskSpec, Window, WorkerProfile

ALWAYS = (Window(0, 24 * 60),)


@settings(max_examples=60, deadline=None)
@given(
    regions=st.integers(1, 3),
    per_region=st.integers(1, 4),
    efforts=st.lists(st.sampled_from((60.0, 120.0, 180.0)), min_size=30, max_size=200),
    declines=st.lists(st.booleans(), min_size=200, max_size=200),
)
def test_an_idle_worker_is_passed_over_a_bounded_number_of_times(
    regions: int, per_region: int, efforts: list[float], declines: list[bool]
) -> None:
    policy = new_policy()
    workers = [f"r{r}-w{i}" for r in range(regions) for i in range(per_region)]
    for worker_id in workers:
        region = worker_id.split("-")[0]
        policy.worker_online(WorkerProfile(worker_id, region, 0, ALWAYS), 0.0)
    c = math.ceil(max(efforts) / min(efforts)) + 1
    bound = (regions * c) * (per_region * c)
    passed_over = dict.fromkeys(workers, 0)
    now = 0.0
    for serial, effort in enumerate(efforts):
        now += 60.0
        policy.submit(TaskSpec(f"t{serial}", "label", "lab", effort, now), now)
        for attempt in range(len(workers) + 1):
            decisions = policy.decide(now)
            if not decisions:
                break
            [decision] = decisions
            if declines[(serial + attempt) % len(declines)] and attempt < len(workers):
                policy.declined(decision.worker_id, decision.task_id, now)
                continue
            policy.accepted(decision.worker_id, decision.task_id, now)
            policy.completed(decision.worker_id, decision.task_id, effort, now)
            for worker_id in workers:
                passed_over[worker_id] = (
                    0 if worker_id == decision.worker_id else passed_over[worker_id] + 1
                )
            assert max(passed_over.values()) <= bound, (passed_over, bound)
            break
