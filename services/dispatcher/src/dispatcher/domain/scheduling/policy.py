"""The contract every dispatch policy meets: the fair scheduler and the baselines it is
measured against (first-come racing, polled queue).

Times are float seconds on one clock (the simulator's virtual time, or epoch seconds in the
dispatcher). A policy never reads a clock and does no I/O; it is driven entirely by calls.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

DAY_S = 86_400


@dataclass(frozen=True)
class Window:
    """A local-time availability window in minutes after local midnight; may wrap midnight."""

    start_min: int
    end_min: int


@dataclass(frozen=True)
class WorkerProfile:
    worker_id: str
    region: str
    # Offset of the worker's local time from the policy clock's UTC, in seconds.
    utc_offset_s: int
    windows: tuple[Window, ...]
    skills: frozenset[str] = frozenset()
    sensitive_opt_in: bool = False
    # Per local day; sensitive work beyond it is never offered.
    exposure_cap_s: float = 4 * 3600.0
    # Used only by the racing baseline: who wins a first-come race, and who polls at night.
    link_latency_ms: float = 50.0
    night_poller: bool = False
    # Pools the worker may not be offered, whatever their skills: scoring found their
    # quality on that task type below its bar (never a pay rate).
    excluded_pools: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TaskSpec:
    task_id: str
    pool: str
    platform: str
    effort_s: float
    arrived_at: float
    deadline_at: float | None = None
    skills: tuple[str, ...] = ()
    sensitive: bool = False
    # A control task with a known answer: mixed in at a rate (see gold_mixing).
    gold: bool = False
    # A further answer to a task: never offered to a worker who answered it already.
    answered_by: frozenset[str] = frozenset()


class OfferDecision:
    """Offer `task_id` to `worker_id`, made at `made_at`, lapsing at `expires_at`.

    A plain class rather than a dataclass: the scheduler makes one per decision, and compiled
    (scripts/build_native.sh) its constructor is then native instead of generated Python."""

    __slots__ = ("expires_at", "made_at", "task_id", "worker_id")

    def __init__(self, worker_id: str, task_id: str, made_at: float, expires_at: float) -> None:
        self.worker_id = worker_id
        self.task_id = task_id
        self.made_at = made_at
        self.expires_at = expires_at

    def _key(self) -> tuple[str, str, float, float]:
        return (self.worker_id, self.task_id, self.made_at, self.expires_at)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OfferDecision) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "OfferDecision(worker_id={!r}, task_id={!r}, made_at={!r}, expires_at={!r})".format(
            *self._key()
        )


@dataclass
class PolicyStats:
    """Counters a policy keeps about itself (charges and refunds must balance)."""

    offers: int = 0
    charged_effort_s: float = 0.0
    refunded_effort_s: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


class DispatchPolicy(Protocol):
    name: str

    def worker_online(self, worker: WorkerProfile, now: float) -> None:
        """The worker connected (or came back from an outage). Idempotent."""
        ...

    def worker_offline(self, worker_id: str, now: float) -> None:
        """The worker's connection dropped. An outstanding offer is withdrawn (the caller is
        told via `expired`); a lease is not touched (grace is the caller's business)."""
        ...

    def submit(self, task: TaskSpec, now: float) -> None:
        """A task is ready for dispatch. Idempotent by task_id."""
        ...

    def cancel(self, task_id: str, now: float) -> bool:
        """Removes a queued task; False if it is not queued (offered, leased or unknown)."""
        ...

    def decide(self, now: float) -> list[OfferDecision]:
        """Offers to make now. Each worker has at most one outstanding offer and each task at
        most one offer or lease; no offer outside a worker's window or beyond their exposure
        cap (the baselines may break the window rule, which is what they are measured on)."""
        ...

    def accepted(self, worker_id: str, task_id: str, now: float) -> None: ...

    def declined(self, worker_id: str, task_id: str, now: float) -> None:
        """The worker said no: refund the charge, requeue the task, no penalty."""
        ...

    def expired(self, worker_id: str, task_id: str, now: float) -> None:
        """The offer timed out or was withdrawn: as `declined`."""
        ...

    def completed(self, worker_id: str, task_id: str, worked_s: float, now: float) -> None:
        """The lease ended with a submission; the worker is idle again."""
        ...

    def lease_lost(self, worker_id: str, task_id: str, now: float) -> None:
        """The grace period ran out: the task goes back to the queue, no penalty."""
        ...

    def heartbeat(self, worker_id: str, task_id: str, now: float) -> None:
        """The worker is still on their lease."""
        ...

    def timeouts(self, now: float) -> Sequence[object]:
        """Offer, heartbeat, grace and deadline timers due by `now`, applied by a policy that
        runs its own timers; a policy whose caller runs them returns nothing."""
        ...

    def next_wakeup(self, now: float) -> float | None:
        """The earliest future time at which `decide` could return something new without any
        other call (a window opens, held work is released, a poll is due), or None."""
        ...

    def stats(self) -> PolicyStats: ...
