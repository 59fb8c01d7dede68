"""Random arrivals, connects, disconnects, offers answered or lapsed, completions, lost leases
and clock jumps never break what the fair scheduler promises.

The machine keeps its own model of every worker and task and checks each decision against it:
no offer outside the worker's window (own time zone, default quiet hours) or beyond their
exposure cap, never two outstanding offers for a worker, never one task offered or leased to
two workers, only tasks the worker fits and can finish before the deadline. Charges and refunds
balance, a twin scheduler fed the same calls makes the same decisions, nothing happens before
the scheduler's own `next_wakeup`, and at the end every task is completed, cancelled, still
legitimately waiting, or past its deadline: never silently dropped.
"""

import math
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from scheduling_oracle import fits, in_window, local_day, new_policy

from dispatcher.domain.scheduling.policy import (
    DispatchPolicy,
    OfferDecision,
    TaskSpec,
    Window,
    WorkerProfile,
)

HOUR = 3600.0
OFFSETS_S = (
    -9 * 3600 - 1800,
    -5 * 3600,
    0,
    5 * 3600 + 1800,
    5 * 3600 + 2700,
    9 * 3600,
    12 * 3600 + 2700,
)
WINDOW_MENU: tuple[tuple[Window, ...], ...] = (
    (),  # default quiet hours: 07:00-22:00
    (Window(8 * 60, 12 * 60), Window(18 * 60, 21 * 60)),
    (Window(22 * 60, 6 * 60),),  # wraps midnight
    (Window(0, 24 * 60),),
    (Window(9 * 60, 17 * 60 + 30),),
)
# Pools as the dispatcher names them: one name, one set of skills and one sensitivity.
POOLS = {
    "any": ((), False),
    "en": (("en",), False),
    "es": (("es",), False),
    "en-sensitive": (("en",), True),
}
EFFORTS_S = (60.0, 300.0, 900.0, 2400.0)
DEADLINES_S = (None, 1800.0, 6 * HOUR, 30 * HOUR, 72 * HOUR)

profiles_st = st.builds(
    lambda region, offset, windows, skills, opt_in, cap: (
        region,
        offset,
        windows,
        skills,
        opt_in,
        cap,
    ),
    st.sampled_from(("north", "south", "east")),
    st.sampled_from(OFFSETS_S),
    st.sampled_from(WINDOW_MENU),
    st.frozensets(st.sampled_from(("en", "es"))),
    st.booleans(),
    st.sampled_from((900.0, 3600.0, 4 * HOUR)),
)


class Twin:
    """Two schedulers fed the same calls: whatever one answers, the other must too."""

    def __init__(self) -> None:
        self.main = new_policy()
        self.shadow = new_policy()

    def __getattr__(self, name: str) -> Any:
        first, second = getattr(self.main, name), getattr(self.shadow, name)

        def both(*args: Any) -> Any:
            answer = first(*args)
            assert second(*args) == answer, f"{name}{args}: same inputs, different answer"
            return answer

        return both


class PolicyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.policy: Any = Twin()
        self.now = 0.0
        self.profiles: dict[str, WorkerProfile] = {}
        self.online: set[str] = set()
        self.offers: dict[str, str] = {}  # worker -> task
        self.leases: dict[str, str] = {}  # worker -> task
        self.tasks: dict[str, TaskSpec] = {}
        self.state: dict[str, str] = {}
        # Sensitive effort charged per (worker, local day) and each offer's charge for refunds.
        self.exposure: dict[tuple[str, int], float] = {}
        self.offer_day: dict[str, tuple[str, int]] = {}
        self.net_charge_s = 0.0
        self.offers_made = 0
        self.settled = False  # nothing was called since the last decide

    @initialize(
        people=st.lists(profiles_st, min_size=1, max_size=6),
        start=st.floats(0, 7 * 86_400, allow_nan=False),
    )
    def setup(self, people: list[tuple[Any, ...]], start: float) -> None:
        self.now = start
        for index, (region, offset, windows, skills, opt_in, cap) in enumerate(people):
            worker_id = f"w{index}"
            self.profiles[worker_id] = WorkerProfile(
                worker_id=worker_id,
                region=region,
                utc_offset_s=offset,
                windows=windows,
                skills=skills,
                sensitive_opt_in=opt_in,
                exposure_cap_s=cap,
            )

    def _touch(self) -> None:
        self.settled = False

    # -- workers ---------------------------------------------------------------------------
    @rule(data=st.data())
    def connect(self, data: st.DataObject) -> None:
        worker_id = data.draw(st.sampled_from(sorted(self.profiles)))
        self._touch()
        self.policy.worker_online(self.profiles[worker_id], self.now)
        self.online.add(worker_id)

    @precondition(lambda self: self.online)
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        worker_id = data.draw(st.sampled_from(sorted(self.online)))
        self._touch()
        if worker_id in self.offers:  # the caller withdraws the offer, then reports the drop
            self._give_back(worker_id, self.policy.expired)
        self.policy.worker_offline(worker_id, self.now)
        self.online.discard(worker_id)

    # -- tasks -----------------------------------------------------------------------------
    @rule(
        pool=st.sampled_from(sorted(POOLS)),
        effort=st.sampled_from(EFFORTS_S),
        deadline=st.sampled_from(DEADLINES_S),
        platform=st.sampled_from(("lab", "vendor")),
    )
    def submit(self, pool: str, effort: float, deadline: float | None, platform: str) -> None:
        skills, sensitive = POOLS[pool]
        task = TaskSpec(
            task_id=f"t{len(self.tasks)}",
            pool=pool,
            platform=platform,
            effort_s=effort,
            arrived_at=self.now,
            deadline_at=None if deadline is None else self.now + deadline,
            skills=skills,
            sensitive=sensitive,
        )
        self._touch()
        self.policy.submit(task, self.now)
        self.tasks[task.task_id] = task
        self.state[task.task_id] = "queued"

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def submit_again(self, data: st.DataObject) -> None:
        """Submission is idempotent: the dispatcher repeats it after restarts and expiries."""
        task_id = data.draw(st.sampled_from(sorted(self.tasks)))
        self._touch()
        self.policy.submit(self.tasks[task_id], self.now)

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.tasks)))
        self._touch()
        cancelled = self.policy.cancel(task_id, self.now)
        if self.state[task_id] != "queued":
            assert not cancelled, f"{task_id} is {self.state[task_id]}, yet cancel succeeded"
            return
        if cancelled:
            self.state[task_id] = "cancelled"
        else:
            task = self.tasks[task_id]
            assert not self._feasible(task), f"queued {task_id} refused cancel"
            self.state[task_id] = "expired"

    # -- decisions -------------------------------------------------------------------------
    @rule()
    def decide(self) -> None:
        for decision in self.policy.decide(self.now):
            self._check_and_record(decision)
        self.settled = True

    def _check_and_record(self, decision: OfferDecision) -> None:
        worker_id, task_id, now = decision.worker_id, decision.task_id, self.now
        profile = self.profiles.get(worker_id)
        task = self.tasks.get(task_id)
        assert profile is not None, f"unknown worker in {decision}"
        assert task is not None, f"unknown task in {decision}"
        assert worker_id in self.online, f"{worker_id} is offline"
        assert in_window(profile, now), f"{worker_id} offered outside their window at {now}"
        assert worker_id not in self.offers, f"{worker_id} already has an outstanding offer"
        assert worker_id not in self.leases, f"{worker_id} holds a lease"
        assert self.state[task_id] == "queued", f"{task_id} is {self.state[task_id]}"
        assert fits(profile, task), f"{worker_id} does not fit {task}"
        assert self._feasible(task), f"{task_id} offered too late to meet its deadline"
        assert decision.made_at == now
        assert decision.expires_at > now
        if task.sensitive:
            key = (worker_id, local_day(profile, now))
            used = self.exposure.get(key, 0.0)
            assert used + task.effort_s <= profile.exposure_cap_s + 1e-6, "exposure cap"
            self.exposure[key] = used + task.effort_s
            self.offer_day[task_id] = key
        self.offers[worker_id] = task_id
        self.state[task_id] = "offered"
        self.net_charge_s += task.effort_s
        self.offers_made += 1

    def _feasible(self, task: TaskSpec) -> bool:
        return task.deadline_at is None or self.now + task.effort_s <= task.deadline_at

    # -- answers ---------------------------------------------------------------------------
    @precondition(lambda self: self.offers)
    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        worker_id = data.draw(st.sampled_from(sorted(self.offers)))
        self._touch()
        task_id = self.offers.pop(worker_id)
        self.policy.accepted(worker_id, task_id, self.now)
        self.leases[worker_id] = task_id
        self.state[task_id] = "leased"
        self.offer_day.pop(task_id, None)

    @precondition(lambda self: self.offers)
    @rule(data=st.data(), declined=st.booleans())
    def decline_or_lapse(self, data: st.DataObject, declined: bool) -> None:
        worker_id = data.draw(st.sampled_from(sorted(self.offers)))
        self._touch()
        self._give_back(worker_id, self.policy.declined if declined else self.policy.expired)

    def _give_back(self, worker_id: str, notify: Any) -> None:
        task_id = self.offers.pop(worker_id)
        notify(worker_id, task_id, self.now)
        self.state[task_id] = "queued"
        task = self.tasks[task_id]
        self.net_charge_s -= task.effort_s
        key = self.offer_day.pop(task_id, None)
        if key is not None:
            self.exposure[key] -= task.effort_s

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        worker_id = data.draw(st.sampled_from(sorted(self.leases)))
        self._touch()
        task_id = self.leases.pop(worker_id)
        self.policy.completed(worker_id, task_id, self.tasks[task_id].effort_s, self.now)
        self.state[task_id] = "completed"

    @precondition(lambda self: any(w not in self.online for w in self.leases))
    @rule(data=st.data())
    def lose_lease(self, data: st.DataObject) -> None:
        """The worker stayed away past the grace period: the task goes back, the charge stays
        (the worker was paid for the time worked)."""
        worker_id = data.draw(
            st.sampled_from(sorted(w for w in self.leases if w not in self.online))
        )
        self._touch()
        task_id = self.leases.pop(worker_id)
        self.policy.lease_lost(worker_id, task_id, self.now)
        self.state[task_id] = "queued"

    # -- time ------------------------------------------------------------------------------
    @rule(step=st.sampled_from((1.0, 59.0, 900.0, HOUR, 6 * HOUR, 86_400.0 + 7.0)))
    def tick(self, step: float) -> None:
        self._touch()
        self.now += step

    @precondition(lambda self: self.settled)
    @rule(step=st.sampled_from((1.0, 60.0, 1800.0, 5 * HOUR)))
    def quiet_until_wakeup(self, step: float) -> None:
        """Nothing new may be decided before the scheduler's own next wake-up."""
        wakeup = self.policy.next_wakeup(self.now)
        assert wakeup is None or wakeup > self.now, f"wake-up {wakeup} is not after {self.now}"
        target = self.now + step
        if wakeup is not None and target >= wakeup:
            return
        self.now = target
        decisions = self.policy.decide(self.now)
        assert decisions == [], f"decided {decisions} before its wake-up {wakeup}"

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def charges_and_refunds_balance(self) -> None:
        stats = self.policy.main.stats()
        net = stats.charged_effort_s - stats.refunded_effort_s
        assert math.isclose(net, self.net_charge_s, abs_tol=1e-6), (net, self.net_charge_s)
        assert stats.offers == self.offers_made

    def teardown(self) -> None:
        """Every task is completed, cancelled or expired, or still legitimately queued: the
        scheduler can cancel it (it has not lost it)."""
        policy: DispatchPolicy = self.policy.main
        for task_id, state in self.state.items():
            if state == "queued" and not policy.cancel(task_id, self.now):
                assert not self._feasible(self.tasks[task_id]), f"{task_id} was dropped"


PolicyMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPolicyMachine = PolicyMachine.TestCase
