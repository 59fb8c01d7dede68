"""First come, first served: today's racing, the baseline fairtask replaces.

Every queued task is visible to everyone watching, and the watcher whose click arrives first
gets it: link latency plus a random human/refresh jitter. Watchers are idle connected workers
inside their window, plus the night pollers, who keep watching through the night outside their
window (their grabs are pushes outside window and night work). With many watchers in a region
the region's best click is its latency plus the minimum of their jitters, so the region with
the fastest link wins nearly every race while it is awake."""

import random
from collections.abc import Hashable

from dispatcher.domain.scheduling.policy import OfferDecision, TaskSpec, WorkerProfile
from fairtask_sim.policies.base import BaselinePolicy


class FirstComeFirstServed(BaselinePolicy):
    name = "fcfs"

    def __init__(
        self, rng: random.Random, offer_ttl_s: float = 120.0, race_jitter_ms: float = 100.0
    ) -> None:
        super().__init__(rng, offer_ttl_s)
        self._jitter_ms = race_jitter_ms
        self._latency_ms: dict[str, float] = {}
        self._regions_of_pool: dict[str, list[str]] = {}

    def _looks_for_work(self, worker_id: str) -> bool:
        if not self._idle(worker_id):
            return False
        return self._in_window[worker_id] or self._profiles[worker_id].night_poller

    def _group_key(self, pool: str, profile: WorkerProfile) -> Hashable:
        if profile.region not in self._latency_ms:
            self._latency_ms[profile.region] = profile.link_latency_ms
        regions = self._regions_of_pool.setdefault(pool, [])
        if profile.region not in regions:
            regions.append(profile.region)
        return (pool, profile.region)

    def decide(self, now: float) -> list[OfferDecision]:
        self._advance(now)
        self._fresh.clear()
        decisions: list[OfferDecision] = []
        for pool in self._pools_with_work():
            while (task := self._oldest(pool)) is not None:
                winner = self._race(pool, task, now)
                if winner is None:
                    break
                decisions.append(self._offer_to(winner, task, now))
        return decisions

    def _race(self, pool: str, task: TaskSpec, now: float) -> str | None:
        rng = self._rng
        entrants: list[tuple[float, str]] = []
        for region in self._regions_of_pool.get(pool, ()):
            watchers = len(self._groups[(pool, region)])
            if watchers:
                # The fastest of n uniform jitters in [0, J] is J * (1 - U^(1/n)).
                best = self._jitter_ms * (1.0 - float(rng.random() ** (1.0 / watchers)))
                entrants.append((self._latency_ms[region] + best, region))
        for _, region in sorted(entrants):
            winner = self._pick(self._groups[(pool, region)], task, now)
            if winner is not None:
                return winner
        return None
