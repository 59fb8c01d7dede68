"""What Redis holds for every dispatcher replica, as the in-memory fakes keep it."""

from dataclasses import dataclass, field

from dispatcher.domain.events import Event
from dispatcher.domain.model import Task, TaskState
from dispatcher.service_layer.sessions import Hello
from dispatcher.service_layer.transitions import Transition


@dataclass
class TaskRecord:
    """The `task:<id>` hash: present from record_accepted or ingest, whichever comes first."""

    platform_id: str
    client_task_id: str
    task_type: str
    state: TaskState
    task: Task | None = None  # the `event` field, set by ingest
    seq: int | None = None
    offer_id: str | None = None
    worker_id: str | None = None
    lease_id: str | None = None
    # Scoring settled it: no further answer's copy is queued.
    settled: bool = False


@dataclass(frozen=True)
class OfferRecord:
    task_id: str
    worker_id: str
    expires_ms: int
    by: str


@dataclass
class LeaseRecord:
    task_id: str
    worker_id: str
    region: str
    offer_id: str
    leased_ms: int
    last_seen_ms: int
    by: str
    state: str = "active"  # active | submitted | released
    draft: bytes = b""


@dataclass
class ConnRecord:
    hello: Hello
    holder: str
    seq: int


@dataclass
class MemoryState:
    """What Redis holds for every replica."""

    in_transit: dict[str, set[str]] = field(default_factory=dict)  # accepted, not yet ingested
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    pools: dict[str, tuple[str, ...]] = field(default_factory=dict)
    queues: dict[str, dict[str, int]] = field(default_factory=dict)  # pool -> task -> seq
    # Tasks with a deadline, until done, cancelled or expired: task -> when to look, in ms.
    deadlines: dict[str, int] = field(default_factory=dict)
    seq: int = 0
    offers: dict[str, OfferRecord] = field(default_factory=dict)
    leases: dict[str, LeaseRecord] = field(default_factory=dict)
    worker_lease: dict[str, str] = field(default_factory=dict)
    worker_offer: dict[str, str] = field(default_factory=dict)
    active: dict[str, None] = field(default_factory=dict)  # an ordered set of lease ids
    grace: dict[str, int] = field(default_factory=dict)  # lease id -> end of grace in ms
    conns: dict[str, ConnRecord] = field(default_factory=dict)
    conn_seq: int = 0
    replicas: dict[str, int] = field(default_factory=dict)  # replica -> alive until, ms
    log: list[Transition] = field(default_factory=list)
    logged: int = 0  # entries ever written: positions are never reused
    cursors: dict[str, str] = field(default_factory=dict)  # replica -> read up to
    relay: str = ""  # the replica relaying the log
    published: str = "0-0"
    # What the relay would publish, in log order: the tests' view of Kafka.
    published_events: list[Event] | None = None
