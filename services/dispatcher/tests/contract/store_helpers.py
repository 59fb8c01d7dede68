"""What the store contract tests share: tasks, workers and the steps to an offer or a lease.

Imported as a plain module (conftest.py puts this folder on sys.path).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dispatcher.domain.model import Offer, Task, TaskType, pool_of, task_id_for
from dispatcher.service_layer.ports import TaskStore, TaskTypeStore, TransitionLog
from dispatcher.service_layer.sessions import Hello

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PLATFORM = "lab-a"
OTHER = "lab-b"
PURPOSE = "Lab A trains a model that finds cars in street photos"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ttl(seconds: float = 60) -> datetime:
    return at(seconds)


def make_task(
    client_id: str,
    task_type: str = "bbox",
    platform: str = PLATFORM,
    skills: tuple[str, ...] = (),
    gold: str = "",
) -> Task:
    kind = TaskType(task_type, PURPOSE, 400_000, 90, skills)
    return Task(
        task_id=task_id_for(platform, client_id),
        platform_id=platform,
        client_task_id=client_id,
        task_type=kind,
        pool=pool_of(platform, task_type),
        payload=f"payload of {client_id}".encode(),
        deadline=None,
        gold_answer=gold,
        submitted_at=T0,
    )


POOL = pool_of(PLATFORM, "bbox")


REPLICA = "r1"
BY = "r1/0"  # the policy that makes the offers
ALIVE = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass
class Stores:
    tasks: TaskStore
    types: TaskTypeStore
    log: TransitionLog


async def queued(store: TaskStore, *tasks: Task) -> None:
    for task in tasks:
        assert await store.ingest(task, T0)


def hello(worker: str) -> Hello:
    return Hello(worker, "eu", frozenset({"vision"}), "Europe/Paris", ("08:00-12:00",))


async def connected(store: TaskStore, *workers: str) -> None:
    online = {w.hello.worker_id for w in await store.online_workers()}
    for worker in workers:
        if worker not in online:
            await store.connect_worker(hello(worker), T0)


async def take(
    store: TaskStore, pools: list[str], worker: str, offer_id: str, expires: datetime
) -> Offer | None:
    """Offers the worker (connecting them first) the oldest queued task of the first pool with
    one, as a policy working in arrival order would."""
    await connected(store, worker)
    for pool in pools:
        waiting = await store.queued_tasks([pool])
        if waiting:
            made = await store.offer_task(
                waiting[0].task_id, worker, offer_id, expires, "eu", BY, T0
            )
            return made.offer
    return None


async def offer_ids(store: TaskStore, pools: list[str], count: int) -> list[str]:
    """Takes `count` offers for distinct workers and returns the client ids offered, in order."""
    taken: list[str] = []
    for i in range(count):
        offer = await take(store, pools, f"w{i}", f"o{i}", ttl())
        assert offer is not None
        taken.append(offer.task.client_task_id)
    return taken


async def leased(store: TaskStore, task: Task, worker: str = "w1", lease_id: str = "l1") -> str:
    await queued(store, task)
    offer = await take(store, [task.pool], worker, f"offer-{lease_id}", ttl())
    assert offer is not None
    await store.accept(offer.offer_id, worker, lease_id, "eu", at(1))
    return lease_id


async def dropped(store: TaskStore, worker: str, until: datetime, seen: datetime) -> None:
    """The worker's connection ends (seen last at `seen`): their lease's grace runs to `until`."""
    assert (await store.disconnect_worker(worker, None, None, seen, until, seen)).ended
