"""The dispatcher's handlers wired to in-memory fakes and a clock that moves only when told.

Imported by the unit tests as a plain module (conftest.py puts this folder on sys.path).
"""

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from dispatcher.adapters.memory import (
    MemoryEscrow,
    MemoryTaskStore,
    MemoryTaskTypes,
    RecordingPublisher,
)
from dispatcher.adapters.memory_client_tasks import MemoryClientTaskIds
from dispatcher.domain.events import LeaseReleased
from dispatcher.domain.model import Task, TaskType, pool_of, task_id_for
from dispatcher.domain.scheduling.round_robin import RoundRobinPolicy
from dispatcher.domain.validation import Limits
from dispatcher.service_layer.dispatch import Dispatch, DispatchConfig
from dispatcher.service_layer.platform import BacklogBound, PlatformHandlers
from dispatcher.service_layer.ports import Connection
from dispatcher.service_layer.sessions import Hello, LeasePush, OfferPush, Push, WorkerSession
from fairtask_runtime.clock import FakeClock

PLATFORM = "lab-a"
OTHER_PLATFORM = "lab-b"
PURPOSE = "Lab A trains a model that finds cars in street photos"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = DispatchConfig(offer_ttl_s=120.0, grace_s=900.0, heartbeat_interval_s=10)


def ids(prefix: str) -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


@dataclass
class World:
    clock: FakeClock = field(default_factory=lambda: FakeClock(START))
    task_types: MemoryTaskTypes = field(default_factory=MemoryTaskTypes)
    events: RecordingPublisher = field(default_factory=RecordingPublisher)
    backlog: BacklogBound = field(default_factory=BacklogBound)
    escrow: MemoryEscrow = field(default_factory=MemoryEscrow)
    client_tasks: MemoryClientTaskIds = field(default_factory=MemoryClientTaskIds)

    def __post_init__(self) -> None:
        # The store's transition log goes straight to `events`, as the relay would take it.
        self.store = MemoryTaskStore(events=self.events.events)
        self.dispatch = Dispatch(
            self.store,
            self.clock,
            CONFIG,
            new_id=ids("id"),
            new_policy=lambda: RoundRobinPolicy(CONFIG.offer_ttl_s),
        )
        self.platform = PlatformHandlers(
            self.task_types,
            self.store,
            self.client_tasks,
            self.events,
            self.clock,
            Limits(),
            on_cancelled=self.dispatch.task_cancelled,
            escrow=self.escrow,
            backlog=self.backlog,
        )

    @property
    def policy(self) -> RoundRobinPolicy:
        policy = self.dispatch.policy
        assert isinstance(policy, RoundRobinPolicy)
        return policy


def hello(worker_id: str, skills: tuple[str, ...] = (), region: str = "eu") -> Hello:
    return Hello(worker_id=worker_id, region=region, skills=frozenset(skills))


def make_task(
    client_id: str,
    task_type: str = "bbox",
    skills: tuple[str, ...] = (),
    gold: str = "",
    platform: str = PLATFORM,
) -> Task:
    return Task(
        task_id=task_id_for(platform, client_id),
        platform_id=platform,
        client_task_id=client_id,
        task_type=TaskType(task_type, PURPOSE, 400_000, 90, skills),
        pool=pool_of(platform, task_type),
        payload=f"payload of {client_id}".encode(),
        deadline=None,
        gold_answer=gold,
        submitted_at=START,
    )


def drain(session: WorkerSession) -> list[Push]:
    """Everything pushed to the worker since the last drain."""
    pushed: list[Push] = []
    while True:
        try:
            pushed.append(session.outbox.get_nowait())
        except asyncio.QueueEmpty:
            return pushed


def offers_in(pushed: list[Push]) -> list[OfferPush]:
    return [p for p in pushed if isinstance(p, OfferPush)]


async def in_grace(world: World, worker_id: str = "w1") -> str:
    """The worker accepted a task and hung up: their lease's grace period runs. Its id."""
    await world.dispatch.ingest(make_task("c1"))
    session = await world.dispatch.connect(hello(worker_id))
    await world.dispatch._dispatch_round()
    [offer] = offers_in(drain(session))
    await world.dispatch.accept(session, offer.offer.offer_id)
    [lease] = [p.lease for p in drain(session) if isinstance(p, LeasePush)]
    await world.dispatch.disconnect(session)
    return lease.lease_id


def store_replies_late(world: World, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The store connects a worker at once and its reply takes 10 ms more; the event is set
    once the store has connected them (a client may hang up in between)."""
    connect_worker = world.store.connect_worker
    made = asyncio.Event()

    async def round_trip(hello: Hello, now: datetime) -> Connection:
        connection = await connect_worker(hello, now)
        made.set()
        await asyncio.sleep(0.01)
        return connection

    monkeypatch.setattr(world.store, "connect_worker", round_trip)
    return made


async def assert_gone_and_grace_runs(world: World, lease_id: str, worker_id: str = "w1") -> None:
    """No session or connection of the worker is left, and their lease is released when grace
    runs out."""
    assert world.dispatch.session(worker_id) is None
    assert worker_id not in world.store.state.conns
    world.clock.advance(CONFIG.grace_s)
    await world.dispatch._release_overdue_leases()
    [released] = world.events.of_type(LeaseReleased)
    assert released.lease.lease_id == lease_id
