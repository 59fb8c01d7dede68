"""A polled "give me the next task" queue, as annotation tools do it.

Idle workers inside their window poll every few seconds (uniform between the two bounds); the
first poll after a task is queued gets the oldest task the worker can do. A worker who just
became idle (submitted a task, or their window opened) polls at once. Between those, the polls
of n idle workers with independent phases are close to a Poisson stream of rate n / mean
interval, which is how they are drawn: the next poll of a pool is exponential, and its poller a
uniformly random idle worker of the pool, so no per-worker timers are kept."""

import random

from dispatcher.domain.scheduling.policy import OfferDecision
from fairtask_sim.policies.base import BaselinePolicy


class PolledQueue(BaselinePolicy):
    name = "poll"

    def __init__(
        self,
        rng: random.Random,
        offer_ttl_s: float = 120.0,
        poll_interval_s: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        super().__init__(rng, offer_ttl_s)
        self._longest_interval_s = poll_interval_s[1]
        self._next_poll: dict[str, float] = {}

    def _looks_for_work(self, worker_id: str) -> bool:
        return self._idle(worker_id) and self._in_window[worker_id]

    def decide(self, now: float) -> list[OfferDecision]:
        self._advance(now)
        decisions: list[OfferDecision] = []
        fresh, self._fresh = self._fresh, []
        for worker_id in fresh:
            if worker_id in self._looking:
                decision = self._serve(worker_id, now)
                if decision is not None:
                    decisions.append(decision)
        for pool in self._pools_with_work():
            decisions.extend(self._polls(pool, now))
        return decisions

    def _serve(self, worker_id: str, now: float) -> OfferDecision | None:
        """The worker's poll: the oldest queued task among the pools they can work in."""
        oldest = None
        for pool in self._pools_of[worker_id]:
            task = self._oldest(pool)
            if task is not None and (oldest is None or task.arrived_at < oldest.arrived_at):
                oldest = task
        if oldest is None or not self._within_cap(worker_id, oldest, now):
            return None
        return self._offer_to(worker_id, oldest, now)

    def _polls(self, pool: str, now: float) -> list[OfferDecision]:
        decisions: list[OfferDecision] = []
        group = self._groups.get(pool)
        at = self._next_poll.pop(pool, None)
        while group and (task := self._oldest(pool)) is not None:
            if at is None:
                at = now + self._first_poll_in(len(group))
            if at > now:
                self._next_poll[pool] = at
                break
            poller = self._pick(group, task, now)
            if poller is None:
                break
            decisions.append(self._offer_to(poller, task, now))
            at = at + self._first_poll_in(len(group)) if group else None
        return decisions

    def _first_poll_in(self, pollers: int) -> float:
        return self._longest_interval_s * (1.0 - float(self._rng.random() ** (1.0 / pollers)))

    def _extra_wakeup(self, now: float) -> float | None:
        return min(self._next_poll.values(), default=None)
