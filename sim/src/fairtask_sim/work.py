"""The work side of the simulation: offers and leases, pay and exposure.

An accepted offer becomes a lease whose work takes the task's effort times the worker's speed
times some noise. An outage pauses a lease: the task stays reserved for the grace period, the
work resumes where it stopped if the worker is back in time, else the lease is lost and the
time worked is paid at the floor. Pay is the task's price, topped up to the floor when the work
took longer than the price covers.
"""

import random
from typing import TYPE_CHECKING

from fairtask_sim.events import DONE, K_COMPLETE, K_GRACE_END, LEASED, P_TASK
from fairtask_sim.timeofday import local_day, night_overlap_s

if TYPE_CHECKING:
    from fairtask_sim.engine import Simulation

NO = -1


class Work:
    def __init__(self, sim: "Simulation") -> None:
        self.sim = sim
        population = sim.population
        self.profiles = population.profiles
        self.region_of = population.region_of
        self.fits = [set(pools) for pools in population.pools_of]
        count = len(self.profiles)
        self.offer = [NO] * count
        self.offer_token = [0] * count
        self.offer_at = [0.0] * count
        self.lease = [NO] * count
        self.lease_token = [0] * count
        self.segment_start = [0.0] * count
        self.running = [False] * count
        self.done_s = [0.0] * count
        self.need_s = [0.0] * count
        self.exposure_s: dict[tuple[int, int], float] = {}
        noise = sim.scenario.behaviour.work_noise_sigma
        self._noise_mu = -noise * noise / 2
        self._noise_sigma = noise
        self._rng = random.Random(f"{sim.seed}/work")

    def cannot_take(self, worker: int, pool: int) -> str | None:
        if not self.sim.presence.connected[worker]:
            return "worker is not connected"
        if self.offer[worker] != NO:
            return "worker already has an outstanding offer"
        if self.lease[worker] != NO:
            return "worker holds a lease"
        if pool not in self.fits[worker]:
            return "worker lacks the skills or the opt-in for the pool"
        return None

    def record_offer(self, worker: int, task: int, pool: int, now: float) -> int:
        self.offer[worker] = task
        self.offer_at[worker] = now
        token = self.offer_token[worker] + 1
        self.offer_token[worker] = token
        region = self.region_of[worker]
        if not self.sim.presence.in_window[region]:
            tally = self.sim.tally
            tally.pushes_outside_window[worker] += 1
            tally.rp_pushes[region * tally.pools + pool] += 1
        self.sim.presence.offered(region, now)
        return token

    def offer_is_current(self, worker: int, token: int) -> bool:
        return self.offer[worker] != NO and self.offer_token[worker] == token

    def withdraw_offer(self, worker: int, now: float, *, declined: bool) -> None:
        """A decline, an expiry, or an offer withdrawn because the worker dropped off."""
        task = self.offer[worker]
        self.offer[worker] = NO
        self.offer_token[worker] += 1
        task_id = self.sim.task_spec[task].task_id
        worker_id = self.profiles[worker].worker_id
        if declined:
            self.sim.tally.declines += 1
            self.sim.policy.declined(worker_id, task_id, now)
        else:
            self.sim.tally.expiries += 1
            self.sim.policy.expired(worker_id, task_id, now)
        self.sim.requeue(task)
        self.sim.request_round(now)

    def accept(self, worker: int, now: float) -> None:
        sim, tally = self.sim, self.sim.tally
        task = self.offer[worker]
        self.offer[worker] = NO
        self.offer_token[worker] += 1
        sim.task_state[task] = LEASED
        spec = sim.task_spec[task]
        sim.policy.accepted(self.profiles[worker].worker_id, spec.task_id, now)
        pool = sim.task_pool[task]
        region = self.region_of[worker]
        tally.leases += 1
        tally.work_s[worker][pool] += spec.effort_s
        tally.rp_work_s[region * tally.pools + pool] += spec.effort_s
        tally.region_work_s[region] += spec.effort_s
        if spec.sensitive:
            self._expose(worker, spec.effort_s)
        need = spec.effort_s * self.sim.population.speed[worker]
        need *= self._rng.lognormvariate(self._noise_mu, self._noise_sigma)
        self.lease[worker] = task
        self.need_s[worker] = need
        self.done_s[worker] = 0.0
        self.running[worker] = True
        self.segment_start[worker] = now
        self.lease_token[worker] += 1
        sim.push(now + need, P_TASK, K_COMPLETE, worker, self.lease_token[worker])

    def _expose(self, worker: int, effort_s: float) -> None:
        # The policy decides on the offer's local day, so that is the day the exposure counts.
        key = (worker, local_day(self.offer_at[worker], self.profiles[worker].utc_offset_s))
        before = self.exposure_s.get(key, 0.0)
        self.exposure_s[key] = before + effort_s
        cap = self.profiles[worker].exposure_cap_s
        if before <= cap + 1e-6 < before + effort_s:
            self.sim.tally.exposure_cap_exceeded += 1

    def pause(self, worker: int, now: float) -> None:
        """The worker dropped off: an outstanding offer lapses, a running lease waits out the
        grace period."""
        if self.offer[worker] != NO:
            self.withdraw_offer(worker, now, declined=False)
        if self.lease[worker] != NO and self.running[worker]:
            self._end_segment(worker, now)
            self.lease_token[worker] += 1
            grace_end = now + self.sim.scenario.behaviour.grace_s
            self.sim.push(grace_end, P_TASK, K_GRACE_END, worker, self.lease_token[worker])

    def resume(self, worker: int, now: float) -> None:
        """The worker is back: within the grace period the autosaved work goes on."""
        if self.lease[worker] != NO and not self.running[worker]:
            self.lease_token[worker] += 1
            self.running[worker] = True
            self.segment_start[worker] = now
            remaining = self.need_s[worker] - self.done_s[worker]
            self.sim.push(now + remaining, P_TASK, K_COMPLETE, worker, self.lease_token[worker])

    def _end_segment(self, worker: int, now: float) -> None:
        start = self.segment_start[worker]
        self.running[worker] = False
        self.done_s[worker] += now - start
        night = night_overlap_s(start, now, self.profiles[worker].utc_offset_s)
        if night > 0:
            tally = self.sim.tally
            tally.night_s[worker] += night
            pool = self.sim.task_pool[self.lease[worker]]
            tally.rp_night_s[self.region_of[worker] * tally.pools + pool] += night

    def complete(self, worker: int, token: int, now: float) -> None:
        if self.lease_token[worker] != token or not self.running[worker]:
            return
        sim, tally = self.sim, self.sim.tally
        self._end_segment(worker, now)
        task = self.lease[worker]
        worked = self.done_s[worker]
        spec = sim.task_spec[task]
        sim.policy.completed(self.profiles[worker].worker_id, spec.task_id, worked, now)
        pool = sim.task_pool[task]
        price = sim.scenario.task_types[pool].price_micros
        floor = round(sim.scenario.pay_floor_micros_per_hour * worked / 3600)
        # Pay floor: when the work took longer than the price covers, the platform tops it up.
        if floor > price:
            tally.floor_top_ups += 1
        self._pay(worker, pool, max(price, floor), worked)
        cell = self.region_of[worker] * tally.pools + pool
        tally.completed[worker] += 1
        tally.rp_completed[cell] += 1
        sim.task_state[task] = DONE
        if now > sim.task_deadline[task]:
            tally.late_completions.append(task)
        self.lease[worker] = NO
        self.lease_token[worker] += 1
        presence = sim.presence
        if not presence.want[worker] and presence.connected[worker]:
            presence.disconnect(worker, now)
        else:
            sim.request_round(now)

    def grace_end(self, worker: int, token: int, now: float) -> None:
        if self.lease_token[worker] != token or self.running[worker]:
            return
        sim, tally = self.sim, self.sim.tally
        task = self.lease[worker]
        sim.policy.lease_lost(self.profiles[worker].worker_id, sim.task_spec[task].task_id, now)
        worked = self.done_s[worker]
        # Time worked on a task the worker could not finish is paid at the floor.
        self._pay(
            worker,
            sim.task_pool[task],
            round(sim.scenario.pay_floor_micros_per_hour * worked / 3600),
            worked,
        )
        tally.leases_lost += 1
        self.lease[worker] = NO
        self.lease_token[worker] += 1
        sim.requeue(task)
        sim.request_round(now)

    def _pay(self, worker: int, pool: int, amount_micros: int, worked_s: float) -> None:
        tally = self.sim.tally
        floor = self.sim.scenario.pay_floor_micros_per_hour * worked_s / 3600
        if amount_micros + 1 < floor:
            tally.below_floor_payments += 1
        cell = self.region_of[worker] * tally.pools + pool
        tally.earnings_micros[worker] += amount_micros
        tally.paid_s[worker] += worked_s
        tally.rp_earnings_micros[cell] += amount_micros
        tally.rp_paid_s[cell] += worked_s
