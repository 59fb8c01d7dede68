"""Offers that expire, leases kept alive by heartbeats, and the disconnect grace period, run by
the scheduler's own timers, under random connects, drops, answers, heartbeats and clock jumps.

The machine keeps an independent model of every offer and lease with the time each started
and checks each timer the scheduler fires against it: an offer lapses exactly when its time to
live is over, a lease without heartbeats pauses, a paused lease stays its worker's for the
grace period and resumes when they come back, then returns to the queue, and a task still
queued at its deadline expires. After every timer run nothing overdue is left, every task's
phase matches the model, no task is ever offered or leased to two workers, and a finished task
(completed or expired) is forgotten: the scheduler holds only the tasks in play.
"""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dispatcher.domain.scheduling.fair_share import FairConfig, FairScheduler
from dispatcher.domain.scheduling.policy import TaskSpec, Window, WorkerProfile
from dispatcher.domain.scheduling.states import LeaseRules, TaskPhase, TimeoutKind

TTL_S = 120.0
RULES = LeaseRules(heartbeat_timeout_s=30.0, grace_s=900.0)
WORKERS = ("w0", "w1", "w2")
ALWAYS = (Window(0, 24 * 60),)


class LeaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.policy = FairScheduler(config=FairConfig(offer_ttl_s=TTL_S, lease_rules=RULES))
        self.now = 1_000.0
        self.online: set[str] = set()
        self.tasks: dict[str, TaskSpec] = {}
        self.phase: dict[str, TaskPhase | None] = {}  # None: finished
        self.offers: dict[str, tuple[str, float]] = {}  # worker -> (task, offered at)
        self.leases: dict[str, tuple[str, float]] = {}  # worker -> (task, last beat)
        self.paused: dict[str, tuple[str, float]] = {}  # worker -> (task, paused at)

    def _profile(self, worker_id: str) -> WorkerProfile:
        return WorkerProfile(worker_id=worker_id, region="r", utc_offset_s=0, windows=ALWAYS)

    # -- workers ---------------------------------------------------------------------------
    @rule(worker_id=st.sampled_from(WORKERS))
    def connect(self, worker_id: str) -> None:
        if worker_id in self.online:
            return
        self.policy.worker_online(self._profile(worker_id), self.now)
        self.online.add(worker_id)
        if worker_id in self.paused:  # back within grace
            task_id, _ = self.paused.pop(worker_id)
            self.leases[worker_id] = (task_id, self.now)
            self.phase[task_id] = TaskPhase.LEASED

    @precondition(lambda self: self.online)
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        worker_id = data.draw(st.sampled_from(sorted(self.online)))
        self.policy.worker_offline(worker_id, self.now)
        self.online.discard(worker_id)
        if worker_id in self.leases:  # an outstanding offer just lapses on its timer
            task_id, _ = self.leases.pop(worker_id)
            self.paused[worker_id] = (task_id, self.now)
            self.phase[task_id] = TaskPhase.PAUSED

    # -- tasks and decisions ---------------------------------------------------------------
    @rule(deadline=st.sampled_from((None, 600.0, 3600.0)))
    def submit(self, deadline: float | None) -> None:
        task = TaskSpec(
            task_id=f"t{len(self.tasks)}",
            pool="any",
            platform="lab",
            effort_s=60.0,
            arrived_at=self.now,
            deadline_at=None if deadline is None else self.now + deadline,
        )
        self.policy.submit(task, self.now)
        self.tasks[task.task_id] = task
        self.phase[task.task_id] = TaskPhase.QUEUED

    @rule()
    def decide(self) -> None:
        for decision in self.policy.decide(self.now):
            worker_id, task_id = decision.worker_id, decision.task_id
            assert worker_id in self.online, f"{worker_id} is offline"
            held = {*self.offers, *self.leases, *self.paused}
            assert worker_id not in held, f"{worker_id} already holds an offer or a lease"
            assert self.phase[task_id] is TaskPhase.QUEUED, f"{task_id} is not queued"
            assert decision.expires_at == self.now + TTL_S
            self.offers[worker_id] = (task_id, self.now)
            self.phase[task_id] = TaskPhase.OFFERED

    # -- answers ---------------------------------------------------------------------------
    @precondition(lambda self: any(w in self.online for w in self.offers))
    @rule(data=st.data(), accept=st.booleans())
    def answer(self, data: st.DataObject, accept: bool) -> None:
        worker_id = data.draw(st.sampled_from(sorted(w for w in self.offers if w in self.online)))
        task_id, _ = self.offers.pop(worker_id)
        if accept:
            self.policy.accepted(worker_id, task_id, self.now)
            self.leases[worker_id] = (task_id, self.now)
            self.phase[task_id] = TaskPhase.LEASED
        else:
            self.policy.declined(worker_id, task_id, self.now)
            self.phase[task_id] = TaskPhase.QUEUED

    @precondition(lambda self: any(w in self.online for w in {*self.leases, *self.paused}))
    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        """A beat keeps a lease alive, and resumes one paused for missing beats."""
        holders = sorted(w for w in {*self.leases, *self.paused} if w in self.online)
        worker_id = data.draw(st.sampled_from(holders))
        task_id = (self.leases.get(worker_id) or self.paused[worker_id])[0]
        self.policy.heartbeat(worker_id, task_id, self.now)
        self.paused.pop(worker_id, None)
        self.leases[worker_id] = (task_id, self.now)
        self.phase[task_id] = TaskPhase.LEASED

    @precondition(lambda self: any(w in self.online for w in self.leases))
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        worker_id = data.draw(st.sampled_from(sorted(w for w in self.leases if w in self.online)))
        task_id, _ = self.leases.pop(worker_id)
        self.policy.completed(worker_id, task_id, 60.0, self.now)
        self.phase[task_id] = None

    # -- time ------------------------------------------------------------------------------
    @rule(step=st.sampled_from((1.0, 29.0, 31.0, 119.0, 121.0, 600.0, 901.0, 3600.0)))
    def tick(self, step: float) -> None:
        self.now += step
        self.run_timers()

    def run_timers(self) -> None:
        for timeout in self.policy.timeouts(self.now):
            task_id, worker_id = timeout.task_id, timeout.worker_id
            assert timeout.at <= self.now
            if timeout.kind is TimeoutKind.OFFER_EXPIRED:
                assert self.offers.pop(worker_id) == (task_id, timeout.at - TTL_S)
                self.phase[task_id] = TaskPhase.QUEUED
            elif timeout.kind is TimeoutKind.HEARTBEAT_MISSED:
                beat = timeout.at - RULES.heartbeat_timeout_s
                assert self.leases.pop(worker_id) == (task_id, beat)
                self.paused[worker_id] = (task_id, self.now)
                self.phase[task_id] = TaskPhase.PAUSED
            elif timeout.kind is TimeoutKind.GRACE_ENDED:
                assert self.paused.pop(worker_id) == (task_id, timeout.at - RULES.grace_s)
                self.phase[task_id] = TaskPhase.QUEUED
            else:
                assert self.phase[task_id] is TaskPhase.QUEUED
                assert timeout.at == self.tasks[task_id].deadline_at
                self.phase[task_id] = None
        self.nothing_overdue()

    def nothing_overdue(self) -> None:
        now = self.now
        assert all(now < at + TTL_S for _, at in self.offers.values()), "offer past its TTL"
        assert all(now < at + RULES.heartbeat_timeout_s for _, at in self.leases.values())
        assert all(now < at + RULES.grace_s for _, at in self.paused.values()), "grace over"
        for task_id, phase in self.phase.items():
            deadline = self.tasks[task_id].deadline_at
            if phase is TaskPhase.QUEUED and deadline is not None:
                assert now < deadline, f"{task_id} queued past its deadline"

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def phases_match_the_model(self) -> None:
        for task_id, phase in self.phase.items():
            assert self.policy.phase(task_id) is phase, (task_id, phase)
        in_play = sum(1 for phase in self.phase.values() if phase is not None)
        assert self.policy.tasks_in_play() == in_play

    @invariant()
    def one_holder_per_task(self) -> None:
        held = [task for task, _ in (*self.offers.values(), *self.leases.values())]
        held += [task for task, _ in self.paused.values()]
        assert len(held) == len(set(held)), f"a task held twice: {held}"

    @invariant()
    def wakes_for_the_next_timer(self) -> None:
        wakeup = self.policy.next_wakeup(self.now)
        timers = [at + TTL_S for _, at in self.offers.values()]
        timers += [at + RULES.heartbeat_timeout_s for _, at in self.leases.values()]
        timers += [at + RULES.grace_s for _, at in self.paused.values()]
        if timers:
            assert wakeup is not None
            assert wakeup <= min(timers)


LeaseMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLeaseMachine = LeaseMachine.TestCase
