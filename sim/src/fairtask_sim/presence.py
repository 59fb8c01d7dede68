"""The presence side of the simulation: connections, windows, outages, eligibility.

A worker is connected while they want to be (their presence spans) and their power is on.
They are eligible while connected and inside their region's window. A worker who is working
when their span ends finishes the task first. A region wakes up when its first worker becomes
eligible; the delay until its first offer is measured when there was work it could be offered.
"""

import inspect
from typing import TYPE_CHECKING

from fairtask_sim.events import K_OUTAGE_END, K_OUTAGE_START, K_WANT_OFF, K_WANT_ON, P_PRESENCE
from fairtask_sim.work import NO

if TYPE_CHECKING:
    from fairtask_sim.engine import Simulation


class Presence:
    def __init__(self, sim: "Simulation") -> None:
        self.sim = sim
        population = sim.population
        self.profiles = population.profiles
        self.region_of = population.region_of
        self.spans = population.presence
        count = len(self.profiles)
        regions = len(sim.scenario.regions)
        self.worker_index = {p.worker_id: i for i, p in enumerate(self.profiles)}
        self.members: list[list[int]] = [[] for _ in range(regions)]
        for worker, region in enumerate(self.region_of):
            self.members[region].append(worker)
        self.region_pools = [
            sorted({p for w in members for p in population.pools_of[w]}) for members in self.members
        ]
        self.want = [False] * count
        self.out = [0] * count
        self.connected = [False] * count
        self.eligible_since = [-1.0] * count
        self.in_window = [False] * regions
        self.eligible_count = [0] * regions
        self.integrated_at = [0.0] * regions
        self.wake_at: list[float | None] = [None] * regions

    def schedule_start(self) -> None:
        self._introduce_workforce()
        for worker, spans in enumerate(self.spans):
            if spans:
                self.sim.push(spans[0][0], P_PRESENCE, K_WANT_ON, worker, 0)
        for index, outage in enumerate(self.sim.population.outages):
            self.sim.push(outage.start_s, P_PRESENCE, K_OUTAGE_START, index)
            self.sim.push(outage.end_s, P_PRESENCE, K_OUTAGE_END, index)

    def _introduce_workforce(self) -> None:
        """A policy that forecasts when sleeping regions wake may learn the whole workforce up
        front through an optional `worker_known(profile[, now])`; others learn workers as they
        connect."""
        worker_known = getattr(self.sim.policy, "worker_known", None)
        if worker_known is None:
            return
        takes_now = len(inspect.signature(worker_known).parameters) >= 2
        for profile in self.profiles:
            if takes_now:
                worker_known(profile, 0.0)
            else:
                worker_known(profile)

    # -- presence events -----------------------------------------------------------------------

    def want_on(self, worker: int, span: int, now: float) -> None:
        self.want[worker] = True
        self.sim.push(self.spans[worker][span][1], P_PRESENCE, K_WANT_OFF, worker, span)
        if self.out[worker] == 0 and not self.connected[worker]:
            self._connect(worker, now)

    def want_off(self, worker: int, span: int, now: float) -> None:
        self.want[worker] = False
        spans = self.spans[worker]
        if span + 1 < len(spans):
            self.sim.push(spans[span + 1][0], P_PRESENCE, K_WANT_ON, worker, span + 1)
        # Someone in the middle of a task finishes it before logging off.
        if self.connected[worker] and self.sim.work.lease[worker] == NO:
            self.disconnect(worker, now)

    def outage(self, index: int, starts: bool, now: float) -> None:
        for worker in self.sim.population.outages[index].workers:
            if starts:
                self.out[worker] += 1
                if self.out[worker] == 1 and self.connected[worker]:
                    self.disconnect(worker, now)
            else:
                self.out[worker] -= 1
                if self.out[worker] == 0 and self.want[worker] and not self.connected[worker]:
                    self._connect(worker, now)

    def window(self, region: int, opens: bool, now: float) -> None:
        self.in_window[region] = opens
        connected, eligible_since = self.connected, self.eligible_since
        for worker in self.members[region]:
            if not connected[worker]:
                continue
            if opens and eligible_since[worker] < 0:
                self._eligible_on(worker, region, now)
            elif not opens and eligible_since[worker] >= 0:
                self._eligible_off(worker, region, now)
        if opens:
            self.sim.request_round(now)

    def _connect(self, worker: int, now: float) -> None:

        self.connected[worker] = True
        self.sim.policy.worker_online(self.profiles[worker], now)
        region = self.region_of[worker]
        if self.in_window[region]:
            self._eligible_on(worker, region, now)
        self.sim.work.resume(worker, now)
        self.sim.request_round(now)

    def disconnect(self, worker: int, now: float) -> None:
        self.sim.work.pause(worker, now)
        self.sim.policy.worker_offline(self.profiles[worker].worker_id, now)
        self.connected[worker] = False
        if self.eligible_since[worker] >= 0:
            self._eligible_off(worker, self.region_of[worker], now)
        self.sim.request_round(now)

    # -- eligibility ---------------------------------------------------------------------------

    def _integrate(self, region: int, now: float) -> None:
        tally = self.sim.tally
        elapsed = now - self.integrated_at[region]
        tally.region_eligible_s[region] += self.eligible_count[region] * elapsed
        self.integrated_at[region] = now

    def _eligible_on(self, worker: int, region: int, now: float) -> None:
        self.eligible_since[worker] = now
        self._integrate(region, now)
        self.eligible_count[region] += 1
        if self.eligible_count[region] == 1:
            queued = self.sim.queued_in_pool
            # A wake-up counts only when there is work this region could be offered.
            if any(queued[pool] for pool in self.region_pools[region]):
                self.wake_at[region] = now

    def _eligible_off(self, worker: int, region: int, now: float) -> None:
        since = self.eligible_since[worker]
        self.eligible_since[worker] = -1.0
        tally = self.sim.tally
        tally.eligible_s[worker] += now - since
        if now > since:
            tally.eligible_spans[worker].append((since, now))
        self._integrate(region, now)
        self.eligible_count[region] -= 1
        wake = self.wake_at[region]
        if self.eligible_count[region] == 0 and wake is not None:
            # Asleep again without a single offer: the whole awake time was the delay.
            tally.wake_delay(region, now - wake)
            self.wake_at[region] = None

    def region_eligible_until(self, now: float) -> list[float]:
        for region in range(len(self.in_window)):
            self._integrate(region, now)
        return list(self.sim.tally.region_eligible_s)

    # -- offers and leases ---------------------------------------------------------------------

    def offered(self, region: int, now: float) -> None:
        wake = self.wake_at[region]
        if wake is not None:
            self.sim.tally.wake_delay(region, now - wake)
            self.wake_at[region] = None

    def close(self, end: float) -> None:
        """Ends every open eligibility span at the end of the run. A wake-up still waiting for
        its first offer is not counted: the run ended, not the region's day."""
        self.wake_at = [None] * len(self.wake_at)
        for worker, since in enumerate(self.eligible_since):
            if since >= 0:
                self._eligible_off(worker, self.region_of[worker], end)
        self.region_eligible_until(end)
