"""Who is connected (to any replica), what each worker is busy with, and so which of them this
replica's policy may offer work to.

A worker is online in the policy while connected and not busy with an offer or lease that the
policy did not make itself (another replica's, or this replica's before its policy was rebuilt):
the policy never sees those, so it must not count the worker as free.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from dispatcher.domain.scheduling.absences import Absences
from dispatcher.domain.scheduling.policy import DispatchPolicy, WorkerProfile


@dataclass(frozen=True, slots=True)
class Engagement:
    """A worker's offer (lease_id "") or lease, and the policy that offered it."""

    task_id: str
    offer_id: str
    lease_id: str
    by: str


# A worker gone this long is forgotten (their latest connection's number): only entries of
# the last minutes of the log ever compare with it.
FORGET_GONE_AFTER_S = 2 * 86_400.0


class Roster:
    def __init__(
        self,
        policy: DispatchPolicy,
        by: str,
        wake: Callable[[], None],
        forget_gone_after_s: float = FORGET_GONE_AFTER_S,
    ) -> None:
        self.policy = policy
        self.by = by  # this replica's current policy, as named in the log
        self._wake = wake
        self.profiles: dict[str, WorkerProfile] = {}
        self.seqs: dict[str, int] = {}  # the latest connection known of each worker
        self._busy: dict[str, Engagement] = {}
        self._online: set[str] = set()
        self._cooling: dict[str, float] = {}
        self._gone = Absences(forget_gone_after_s)  # workers gone, not forgotten yet

    def connected(self, profile: WorkerProfile, seq: int, now: float) -> None:
        self.profiles[profile.worker_id] = profile
        self._gone.returned(profile.worker_id)
        self.seqs[profile.worker_id] = max(self.seqs.get(profile.worker_id, 0), seq)
        self.refresh(profile.worker_id, now, profile_changed=True)

    def requalify(self, worker_id: str, excluded_pools: frozenset[str], now: float) -> None:
        profile = self.profiles.get(worker_id)
        if profile is None or profile.excluded_pools == excluded_pools:
            return
        self.profiles[worker_id] = replace(profile, excluded_pools=excluded_pools)
        self.refresh(worker_id, now, profile_changed=True)

    def gone(self, worker_id: str, now: float) -> None:
        self.profiles.pop(worker_id, None)
        self._gone.left(worker_id, now)
        self.refresh(worker_id, now)

    def engage(self, worker_id: str, engagement: Engagement, now: float) -> None:
        self._busy[worker_id] = engagement
        if engagement.by != self.by:
            self._cooling.pop(worker_id, None)  # the log has caught up: this is why
            self.refresh(worker_id, now)

    def disengage(self, worker_id: str, now: float, offer_id: str = "", lease_id: str = "") -> None:
        """The offer (or lease) ended; anything newer the worker holds stays."""
        engaged = self._busy.get(worker_id)
        if engaged is None:
            return
        if (offer_id and engaged.offer_id == offer_id and not engaged.lease_id) or (
            lease_id and engaged.lease_id == lease_id
        ):
            del self._busy[worker_id]
            if engaged.by != self.by:
                self._cooling.pop(worker_id, None)
                self.refresh(worker_id, now)

    def engagement(self, worker_id: str) -> Engagement | None:
        return self._busy.get(worker_id)

    def cool(self, worker_id: str, until: float, now: float) -> None:
        """Leaves the worker out of the policy until then, or until the log says what they are
        doing: the store found them busy or gone, and this replica has not read why yet."""
        self._cooling[worker_id] = until
        self.refresh(worker_id, now)

    def warm_up(self, now: float) -> None:
        """The timer round: workers cooled off are offerable again, long gone ones forgotten."""
        for worker_id, until in list(self._cooling.items()):
            if until <= now:
                del self._cooling[worker_id]
                self.refresh(worker_id, now)
        # One still busy elsewhere (another replica's lease) is looked at again later.
        for worker_id in self._gone.overdue(now, self._busy.__contains__):
            self.seqs.pop(worker_id, None)

    def offerable(self, worker_id: str, now: float) -> bool:
        if worker_id not in self.profiles or self._cooling.get(worker_id, 0.0) > now:
            return False
        engaged = self._busy.get(worker_id)
        return engaged is None or engaged.by == self.by

    def refresh(self, worker_id: str, now: float, profile_changed: bool = False) -> None:
        """Tells the policy whether the worker is there for it (again, with a fresh profile)."""
        if self.offerable(worker_id, now):
            if profile_changed or worker_id not in self._online:
                self._online.add(worker_id)
                self.policy.worker_online(self.profiles[worker_id], now)
                self._wake()
        elif worker_id in self._online:
            self._online.discard(worker_id)
            self.policy.worker_offline(worker_id, now)

    def rebuild(self, policy: DispatchPolicy, by: str, now: float) -> None:
        """A fresh policy: what the old one offered is someone else's business now."""
        self.policy, self.by = policy, by
        self._online.clear()
        for worker_id in list(self.profiles):
            self.refresh(worker_id, now, profile_changed=True)
