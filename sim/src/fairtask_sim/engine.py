"""The discrete-event simulation: virtual time, one heap of events, any DispatchPolicy.

t=0 is Monday 00:00 UTC. Events are plain tuples `(time, priority, seq, kind, a, b)`: at one
instant presence changes come first, then task events, then the hourly sample, then the policy's
scheduling round, so a round sees every change of its instant. Rounds are batched on a grid of
`round_s`: any change asks for the next round, the policy's `next_wakeup` asks for one more.

Everything random is drawn from streams seeded by the scenario seed and named by purpose, so
workers, outages and arrivals are identical under every policy (only the reactions to offers
differ in order), and the same seed gives the same run.
"""

import heapq
import math
import random
import time
from dataclasses import dataclass

from dispatcher.domain.scheduling.policy import DAY_S, DispatchPolicy, TaskSpec
from fairtask_sim.events import (
    CANCELLED,
    EXPIRED,
    K_ARRIVAL,
    K_BURST,
    K_CANCEL,
    K_COMPLETE,
    K_DECIDE,
    K_GRACE_END,
    K_OUTAGE_END,
    K_OUTAGE_START,
    K_RESPONSE,
    K_SAMPLE,
    K_WANT_OFF,
    K_WANT_ON,
    K_WINDOW,
    LOST,
    OFFERED,
    P_DECIDE,
    P_PRESENCE,
    P_SAMPLE,
    P_TASK,
    QUEUED,
    R_ACCEPT,
    R_DECLINE,
    R_EXPIRE,
)
from fairtask_sim.population import Population, build_population
from fairtask_sim.presence import Presence
from fairtask_sim.scenario import Scenario
from fairtask_sim.tally import Tally
from fairtask_sim.timeofday import window_spans
from fairtask_sim.work import Work


class PolicyContractError(RuntimeError):
    """The policy broke the DispatchPolicy contract (double offer, unknown task, ...)."""


@dataclass(frozen=True)
class SimResult:
    scenario: Scenario
    policy: str
    seed: int
    population: Population
    tally: Tally
    # Task index -> pool index, arrival, deadline (inf when none), final state.
    task_pool: list[int]
    task_arrived: list[float]
    task_deadline: list[float]
    task_state: list[int]
    tasks_lost: int
    wall_seconds: float
    # CPU time of the run: the honest speed figure when other work shares the machine.
    cpu_seconds: float


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        policy: DispatchPolicy,
        seed: int | None = None,
        population: Population | None = None,
    ) -> None:
        """`population` replaces the one drawn from the seed (tests place outages by hand)."""
        self.scenario = scenario
        self.policy = policy
        self.seed = scenario.seed if seed is None else seed
        self.population = population or build_population(scenario, self.seed)
        types = scenario.task_types
        self.tally = Tally(len(self.population.profiles), len(scenario.regions), len(types))
        self._heap: list[tuple[float, int, int, int, int, int]] = []
        self._seq = 0
        self._end = scenario.duration_s
        self._arrivals_rng = random.Random(f"{self.seed}/arrivals")
        self._reactions_rng = random.Random(f"{self.seed}/reactions")
        self._behaviour = scenario.behaviour
        self._round_s = scenario.behaviour.round_s
        self._grabs = bool(getattr(policy, "offers_are_grabs", False))
        self._pending_rounds: set[int] = set()
        self._last_round = -1
        self._soonest_round_at = math.inf
        self.presence = Presence(self)
        self.work = Work(self)
        # Tasks, by index.
        self._task_index: dict[str, int] = {}
        self.task_spec: list[TaskSpec] = []
        self.task_pool: list[int] = []
        self.task_state: list[int] = []
        self.task_deadline: list[float] = []
        self.queued_in_pool = [0] * len(types)
        self._next_task = [0] * len(types)
        self._schedule_start()

    # -- the loop ------------------------------------------------------------------------------

    def push(self, at: float, priority: int, kind: int, a: int = 0, b: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, priority, self._seq, kind, a, b))

    def run(self) -> SimResult:
        started, started_cpu = time.perf_counter(), time.process_time()
        heap, pop, end = self._heap, heapq.heappop, self._end
        presence, work = self.presence, self.work
        while heap:
            now, _, _, kind, a, b = pop(heap)
            if now > end:
                break
            if kind == K_DECIDE:
                self._decide(a)
            elif kind == K_RESPONSE:
                self._response(a, b, now)
            elif kind == K_COMPLETE:
                work.complete(a, b, now)
            elif kind == K_ARRIVAL:
                self._submit(a, now)
                rate = self.scenario.task_types[a].arrivals_per_hour / 3600
                self.push(now + self._arrivals_rng.expovariate(rate), P_TASK, K_ARRIVAL, a)
            elif kind == K_WANT_ON:
                presence.want_on(a, b, now)
            elif kind == K_WANT_OFF:
                presence.want_off(a, b, now)
            elif kind == K_BURST:
                for _ in range(b):
                    self._submit(a, now)
            elif kind == K_GRACE_END:
                work.grace_end(a, b, now)
            elif kind == K_WINDOW:
                presence.window(a, bool(b), now)
            elif kind == K_OUTAGE_START:
                presence.outage(a, True, now)
            elif kind == K_OUTAGE_END:
                presence.outage(a, False, now)
            elif kind == K_CANCEL:
                self._cancel(a, now)
            elif kind == K_SAMPLE:
                self.tally.sample(now / 3600, presence.region_eligible_until(now))
        lost = self._finish()
        return SimResult(
            scenario=self.scenario,
            policy=self.policy.name,
            seed=self.seed,
            population=self.population,
            tally=self.tally,
            task_pool=self.task_pool,
            task_arrived=[spec.arrived_at for spec in self.task_spec],
            task_deadline=self.task_deadline,
            task_state=self.task_state,
            tasks_lost=lost,
            wall_seconds=time.perf_counter() - started,
            cpu_seconds=time.process_time() - started_cpu,
        )

    def _schedule_start(self) -> None:
        scenario, end = self.scenario, self._end
        for r_index, region in enumerate(scenario.regions):
            for start, stop in window_spans(region.windows, region.utc_offset_s, end):
                self.push(start, P_PRESENCE, K_WINDOW, r_index, 1)
                self.push(stop, P_PRESENCE, K_WINDOW, r_index, 0)
        self.presence.schedule_start()
        for p_index, task_type in enumerate(scenario.task_types):
            if task_type.arrivals_per_hour > 0:
                gap = self._arrivals_rng.expovariate(task_type.arrivals_per_hour / 3600)
                self.push(gap, P_TASK, K_ARRIVAL, p_index)
            for day in range(math.ceil(end / DAY_S) + 1):
                for burst in task_type.bursts:
                    at = day * DAY_S + burst.at_utc_s
                    if at < end:
                        self.push(at, P_TASK, K_BURST, p_index, burst.count)
        for hour in range(1, math.floor(end / 3600) + 1):
            self.push(hour * 3600.0, P_SAMPLE, K_SAMPLE)

    # -- scheduling rounds ---------------------------------------------------------------------

    def request_round(self, at: float) -> None:
        """Asks for a scheduling round at the first grid point at or after `at` that has not
        run yet."""
        soonest = self._soonest_round_at
        if soonest - self._round_s < at <= soonest:
            return  # the round already asked for is the first one at or after `at`
        index = math.ceil(at / self._round_s - 1e-9)
        if index <= self._last_round:
            index = self._last_round + 1
        if index not in self._pending_rounds:
            self._pending_rounds.add(index)
            self._soonest_round_at = min(self._soonest_round_at, index * self._round_s)
            self.push(index * self._round_s, P_DECIDE, K_DECIDE, index)

    def _decide(self, index: int) -> None:
        self._pending_rounds.discard(index)
        pending = self._pending_rounds
        self._soonest_round_at = min(pending) * self._round_s if pending else math.inf
        if index <= self._last_round:
            return
        self._last_round = index
        now = index * self._round_s
        for decision in self.policy.decide(now):
            self._offer(decision.worker_id, decision.task_id, decision.expires_at, now)
        wakeup = self.policy.next_wakeup(now)
        if wakeup is not None:
            self.request_round(wakeup)

    # -- tasks ---------------------------------------------------------------------------------

    def _submit(self, pool: int, now: float) -> None:
        task_type = self.scenario.task_types[pool]
        index = len(self.task_spec)
        number = self._next_task[pool]
        self._next_task[pool] = number + 1
        deadline = None if task_type.deadline_s is None else now + task_type.deadline_s
        spec = TaskSpec(
            task_id=f"{task_type.name}-{number}",
            pool=task_type.name,
            platform=task_type.platform,
            effort_s=task_type.effort_s,
            arrived_at=now,
            deadline_at=deadline,
            skills=task_type.skills,
            sensitive=task_type.sensitive,
        )
        self._task_index[spec.task_id] = index
        self.task_spec.append(spec)
        self.task_pool.append(pool)
        self.task_state.append(QUEUED)
        self.task_deadline.append(math.inf if deadline is None else deadline)
        self.queued_in_pool[pool] += 1
        self.tally.submitted += 1
        self.policy.submit(spec, now)
        if task_type.cancel_share > 0 and self._arrivals_rng.random() < task_type.cancel_share:
            horizon = task_type.deadline_s if task_type.deadline_s is not None else 3600.0
            self.push(now + self._arrivals_rng.uniform(0, horizon), P_TASK, K_CANCEL, index)
        self.request_round(now)

    def _cancel(self, task: int, now: float) -> None:
        if self.task_state[task] != QUEUED:
            return
        if self.policy.cancel(self.task_spec[task].task_id, now):
            self.task_state[task] = CANCELLED
            self.tally.cancelled += 1
        elif now > self.task_deadline[task]:
            self.task_state[task] = EXPIRED
        else:
            raise PolicyContractError(f"{self.task_spec[task].task_id}: queued, cancel refused")
        self.queued_in_pool[self.task_pool[task]] -= 1

    def requeue(self, task: int) -> None:
        self.task_state[task] = QUEUED
        self.queued_in_pool[self.task_pool[task]] += 1

    # -- offers --------------------------------------------------------------------------------

    def _offer(self, worker_id: str, task_id: str, expires_at: float, now: float) -> None:
        work = self.work
        worker = self.presence.worker_index.get(worker_id)
        task = self._task_index.get(task_id)
        if worker is None or task is None:
            raise PolicyContractError(f"offer of unknown {task_id!r} to unknown {worker_id!r}")
        problem = work.cannot_take(worker, self.task_pool[task])
        if problem is None and self.task_state[task] != QUEUED:
            problem = "task is not queued"
        if problem is not None:
            raise PolicyContractError(f"offer of {task_id} to {worker_id} at {now}: {problem}")
        self.task_state[task] = OFFERED
        self.queued_in_pool[self.task_pool[task]] -= 1
        self.tally.offers += 1
        token = work.record_offer(worker, task, self.task_pool[task], now)
        if self._grabs:
            work.accept(worker, now)
            return
        behaviour, rng = self._behaviour, self._reactions_rng
        draw = rng.random()
        # An answer always comes before the offer's own expiry, whatever timeout the policy set.
        ttl = min(behaviour.offer_timeout_s, expires_at - now)
        think = min(rng.expovariate(1 / behaviour.think_s_mean), 0.9 * ttl)
        if draw < behaviour.accept_share:
            self.push(now + think, P_TASK, K_RESPONSE, worker, token * 4 + R_ACCEPT)
        elif draw < behaviour.accept_share + behaviour.decline_share:
            self.push(now + think, P_TASK, K_RESPONSE, worker, token * 4 + R_DECLINE)
        else:
            self.push(max(expires_at, now), P_TASK, K_RESPONSE, worker, token * 4 + R_EXPIRE)

    def _response(self, worker: int, coded: int, now: float) -> None:
        token, reaction = divmod(coded, 4)
        work = self.work
        if not work.offer_is_current(worker, token):
            return
        if reaction == R_ACCEPT:
            work.accept(worker, now)
        else:
            work.withdraw_offer(worker, now, declined=reaction == R_DECLINE)

    # -- the end -------------------------------------------------------------------------------

    def _finish(self) -> int:
        """Closes the books at the end of the run; returns the tasks the policy lost: queued
        here, unknown to its queue, and not past their deadline (those it may have expired)."""
        end = self._end
        self.presence.close(end)
        lost = 0
        policy, state = self.policy, self.task_state
        for index in range(len(state)):
            if state[index] != QUEUED or policy.cancel(self.task_spec[index].task_id, end):
                continue
            if end > self.task_deadline[index]:
                state[index] = EXPIRED
            else:
                state[index] = LOST
                lost += 1
        return lost
