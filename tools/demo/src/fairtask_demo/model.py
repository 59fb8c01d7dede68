"""What the demo records while it runs, and what it reads back from the services at the end."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SubmittedTask:
    """A task the dispatcher accepted (it answered with a task_id)."""

    task_id: str
    client_task_id: str
    platform: str
    task_type: str
    effort_seconds: int
    gold: bool
    deadline: datetime
    submitted_at: datetime


@dataclass(frozen=True)
class WorkerProfile:
    worker_id: str
    region: str
    time_zone: str
    utc_offset_hours: float
    availability: tuple[str, ...]
    skills: tuple[str, ...] = ("en",)


@dataclass
class WorkerTally:
    """One simulated worker's own view of its day; mutated only by that worker's task."""

    profile: WorkerProfile
    eligible_seconds: float = 0.0
    connected: bool = False
    connects: int = 0
    offers: int = 0
    declines: int = 0
    withdrawn: int = 0
    pushes_outside_window: int = 0
    completed: int = 0
    resumed_leases: int = 0
    power_cuts: int = 0
    stream_errors: Counter[str] = field(default_factory=Counter)
    # When this worker sent Submit for each task, to judge night work and deadlines.
    submit_sent_at: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class FinalTask:
    """A task's state per GetTask at the end: a TaskState name without prefix, or LOST."""

    state: str
    worker_id: str = ""


LOST = "LOST"
PENDING_STATES = frozenset({"QUEUED", "OFFERED", "LEASED"})


@dataclass(frozen=True)
class StatementLine:
    task_id: str
    kind: str
    amount_micros: int
    paid_seconds: int


@dataclass(frozen=True)
class Statement:
    worker_id: str
    # All the worker earned: what they are still owed plus what was paid out to them.
    earned_micros: int
    paid_seconds: int
    tasks_paid: int
    lines: tuple[StatementLine, ...] = ()


@dataclass(frozen=True)
class LedgerRegion:
    region: str
    earnings_micros: int
    paid_seconds: int
    tasks_paid: int


@dataclass(frozen=True)
class Ledger:
    balanced: bool
    postings: int
    total_debits_micros: int
    total_credits_micros: int
    regions: tuple[LedgerRegion, ...] = ()


@dataclass(frozen=True)
class RunRecord:
    """Everything the report is computed from; building the report does no I/O."""

    policy: str
    scenario: str
    duration_s: float
    drain_s: float
    ended_at: datetime
    tasks: dict[str, SubmittedTask]
    # Absent from `final`: GetTask could not be answered for it, which counts as lost.
    final: dict[str, FinalTask]
    workers: list[WorkerTally]
    # Absent from `statements`: payroll did not answer for that worker.
    statements: dict[str, Statement]
    ledger: Ledger | None
    results_released: int
    submit_failures: int
    pay_floor_micros_per_hour: int
    night_window: str
    completed: bool = True
    errors: tuple[str, ...] = ()
    # Wall seconds each SubmitTasks call took, successful or not.
    submit_call_s: tuple[float, ...] = ()
    # Each platform's escrow at the end, as payroll reports it.
    escrow: dict[str, dict[str, int]] = field(default_factory=dict)
    # Tasks several workers answer: copy id -> the platform's task (load.registry).
    copies: dict[str, str] = field(default_factory=dict)
    truth: dict[str, str] = field(default_factory=dict)
    answers: dict[str, list[str]] = field(default_factory=dict)
    aggregates: dict[str, tuple[str, int, bool]] = field(default_factory=dict)
