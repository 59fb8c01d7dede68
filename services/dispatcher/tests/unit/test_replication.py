"""Two dispatcher replicas sharing one store, each following the transition log: offers reach
workers held by the other, outcomes reach the policy that offered, nobody gets two offers,
pools follow partitions, and a dead replica's workers get their grace."""

import asyncio
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from dispatcher_world import CONFIG, START, drain, hello, ids, make_task, offers_in

from dispatcher.adapters.memory import (
    MemoryState,
    MemoryTaskStore,
    MemoryTransitionLog,
    PublishFailedError,
    RecordingPublisher,
)
from dispatcher.domain.events import (
    SubmissionReceived,
    TaskAssigned,
    TaskCancelled,
    TaskOffered,
    WorkerPresenceChanged,
)
from dispatcher.domain.model import Offer, Task
from dispatcher.domain.scheduling.round_robin import RoundRobinPolicy
from dispatcher.service_layer.dispatch import Dispatch
from dispatcher.service_layer.replication import Replication, ReplicationConfig
from dispatcher.service_layer.sessions import ErrorPush, LeasePush, Welcome, WorkerSession
from dispatcher.service_layer.transitions import event_of
from fairtask_runtime.clock import FakeClock

SKILLS = ("vision", "audio")
# Two pools, one per partition: "bbox" tasks in partition 0, "transcribe" tasks in 1.
PARTITION = {"lab-a/bbox": 0, "lab-a/transcribe": 1}


def partition_of(pool: str) -> int:
    return PARTITION[pool]


def bbox(client_id: str) -> Task:
    return make_task(client_id, "bbox", ("vision",))


def transcribe(client_id: str) -> Task:
    return make_task(client_id, "transcribe", ("audio",))


@dataclass
class Replica:
    dispatch: Dispatch
    replication: Replication

    async def round(self) -> None:
        await self.dispatch._dispatch_round()

    async def catch_up(self) -> None:
        await self.replication.catch_up()


@dataclass
class Cluster:
    clock: FakeClock = field(default_factory=lambda: FakeClock(START))
    state: MemoryState = field(default_factory=MemoryState)
    kafka: RecordingPublisher = field(default_factory=RecordingPublisher)

    async def replica(self, name: str, *partitions: int) -> Replica:
        store = MemoryTaskStore(name, self.state)
        dispatch = Dispatch(
            store,
            self.clock,
            CONFIG,
            new_id=ids(name),
            new_policy=lambda: RoundRobinPolicy(CONFIG.offer_ttl_s),
            replica_id=name,
            owns_every_pool=False,
        )
        replication = Replication(
            dispatch,
            store,
            MemoryTransitionLog(self.state),
            self.kafka,
            self.clock,
            ReplicationConfig(replica_ttl_s=10.0),
        )
        await replication.start()
        await dispatch.ownership.own(frozenset(partitions), partition_of)
        return Replica(dispatch, replication)

    async def settle(self, *replicas: Replica) -> None:
        """Every replica reads the log and acts, until nothing changes any more."""
        for _ in range(10):
            for replica in replicas:
                await replica.catch_up()
                await replica.round()
            if all(r.replication.position == self.state.log[-1].position for r in replicas):
                return


async def connect(replica: Replica, worker_id: str) -> WorkerSession:
    session = await replica.dispatch.connect(hello(worker_id, SKILLS))
    assert isinstance(drain(session)[0], Welcome)
    return session


def the_offer(session: WorkerSession) -> Offer:
    [push] = offers_in(drain(session))
    return push.offer


async def test_an_offer_reaches_the_worker_through_the_replica_holding_them() -> None:
    cluster = Cluster()
    owner, gateway = await cluster.replica("A", 0, 1), await cluster.replica("B")
    session = await connect(gateway, "w1")
    await owner.catch_up()
    await owner.dispatch.ingest(bbox("c1"))
    await owner.dispatch.ingest(bbox("c2"))

    await owner.round()  # decides and offers, but holds no connection to push it on
    assert offers_in(drain(session)) == []
    await gateway.catch_up()

    offer = the_offer(session)
    assert offer.task.client_task_id == "c1"
    await gateway.dispatch.accept(session, offer.offer_id)
    [lease] = drain(session)
    assert isinstance(lease, LeasePush)
    await gateway.dispatch.submit(session, lease.lease.lease_id, b"a car")
    await cluster.settle(owner, gateway)

    # The owner's policy heard of the submission: the worker is free and gets the next task.
    assert [p.offer.task.client_task_id for p in offers_in(drain(session))] == ["c2"]


async def test_a_lease_released_elsewhere_is_taken_from_its_connected_worker_with_a_word() -> None:
    cluster = Cluster()
    owner, gateway = await cluster.replica("A", 0, 1), await cluster.replica("B")
    session = await connect(gateway, "w1")
    await owner.dispatch.ingest(bbox("c1"))
    await cluster.settle(owner, gateway)
    await gateway.dispatch.accept(session, the_offer(session).offer_id)
    lease_id = session.lease_id
    assert lease_id is not None
    drain(session)

    # Released by another replica while the worker holds it here.
    assert await owner.dispatch._store.release(lease_id, "ended by hand", cluster.clock.now())
    await gateway.catch_up()

    assert session.lease_id is None
    message = f"lease {lease_id} ended: ended by hand; its task went back to the queue"
    assert drain(session)[0] == ErrorPush("NOT_FOUND", message, "lease")


async def test_the_relay_publishes_the_log_in_order_once() -> None:
    cluster = Cluster()
    owner, gateway = await cluster.replica("A", 0, 1), await cluster.replica("B")
    session = await connect(gateway, "w1")
    await owner.dispatch.ingest(bbox("c1"))
    await cluster.settle(owner, gateway)
    await gateway.dispatch.accept(session, the_offer(session).offer_id)
    lease_id = session.lease_id
    assert lease_id is not None
    await gateway.dispatch.submit(session, lease_id, b"a car")
    expected = [e for t in cluster.state.log if t.event_id and (e := event_of(t))]

    cluster.kafka.failing = True
    with pytest.raises(PublishFailedError):  # B's turn to relay, and Kafka is down
        await gateway.replication.relay()
    assert cluster.kafka.events == []
    cluster.kafka.failing = False
    # Nothing was lost while Kafka was down, and A must wait for its turn.
    entries = len(cluster.state.log)
    assert await owner.replication.relay() is None
    assert await gateway.replication.relay() == entries

    assert cluster.kafka.events == expected
    kinds = [type(e) for e in expected]
    assert kinds.index(TaskOffered) < kinds.index(TaskAssigned) < kinds.index(SubmissionReceived)


async def test_a_worker_is_never_offered_two_tasks_by_two_replicas() -> None:
    cluster = Cluster()
    a, b = await cluster.replica("A", 0), await cluster.replica("B", 1)
    session = await connect(b, "w1")
    await a.catch_up()
    await a.dispatch.ingest(bbox("c1"))
    await b.dispatch.ingest(transcribe("c2"))

    # Both policies see the worker free and choose them at the same moment.
    await a.round()
    await b.round()

    assert len(cluster.state.offers) == 1
    await cluster.settle(a, b)
    assert len(cluster.state.offers) == 1
    offer = the_offer(session)
    assert offer.task.client_task_id == "c1"  # A was first; B's choice was refused
    # Declined at B, which knows first that the worker is free: B offers its own task, and A,
    # reading of the decline and of B's offer, leaves the worker alone.
    await b.dispatch.decline(session, offer.offer_id)
    await cluster.settle(b, a)
    assert len(cluster.state.offers) == 1
    assert the_offer(session).task.client_task_id == "c2"


async def test_pools_follow_the_partitions_their_replica_owns() -> None:
    cluster = Cluster()
    a = await cluster.replica("A", 0, 1)
    b = await cluster.replica("B")
    for i in range(2):
        await a.dispatch.ingest(bbox(f"b{i}"))
        await a.dispatch.ingest(transcribe(f"t{i}"))

    # B joins the group: partition 1 (transcribe) moves to it.
    await a.dispatch.ownership.pause()
    await a.dispatch.ownership.own(frozenset({0}), partition_of)
    await b.dispatch.ownership.own(frozenset({1}), partition_of)

    def pools(replica: Replica) -> set[str]:
        policy = replica.dispatch.policy
        assert isinstance(policy, RoundRobinPolicy)
        return {task.pool for task in policy._queue.values()}

    assert (pools(a), pools(b)) == ({"lab-a/bbox"}, {"lab-a/transcribe"})
    labeller = await b.dispatch.connect(hello("w1", ("vision",)))
    typist = await a.dispatch.connect(hello("w2", ("audio",)))
    await cluster.settle(a, b)
    # Each pool's tasks are offered by its owner, whichever replica holds the worker.
    offered = the_offer(labeller)
    assert (offered.task.client_task_id, offered.offer_id[0]) == ("b0", "A")
    offered = the_offer(typist)
    assert (offered.task.client_task_id, offered.offer_id[0]) == ("t0", "B")


async def test_a_dead_replicas_workers_keep_their_lease_through_grace_elsewhere() -> None:
    cluster = Cluster()
    survivor, doomed = await cluster.replica("A", 0, 1), await cluster.replica("B")
    lessee, offeree = await connect(doomed, "w1"), await connect(doomed, "w2")
    await survivor.dispatch.ingest(bbox("c1"))
    await survivor.dispatch.ingest(bbox("c2"))
    await cluster.settle(survivor, doomed)
    await doomed.dispatch.accept(lessee, the_offer(lessee).offer_id)
    lease_id = lessee.lease_id
    assert lease_id is not None
    await doomed.dispatch.heartbeat(lessee, lease_id, b"half a car")
    assert len(offers_in(drain(offeree))) == 1

    cluster.state.replicas["B"] = 0  # B stops renewing its liveness: it is dead
    cluster.clock.advance(5)
    await survivor.replication.check_liveness()
    await survivor.catch_up()

    # The offer B held is back in the queue; the lease waits for its worker through grace.
    assert cluster.state.offers == {}
    grace_ends = START + timedelta(seconds=5 + CONFIG.grace_s)
    assert cluster.state.grace == {lease_id: int(grace_ends.timestamp() * 1000)}
    back = await survivor.dispatch.connect(hello("w1", SKILLS))
    welcome, _ = drain(back)
    assert isinstance(welcome, Welcome)
    assert welcome.resumed is not None
    assert (welcome.resumed.lease_id, welcome.resumed.draft) == (lease_id, b"half a car")
    assert cluster.state.grace == {}
    await survivor.dispatch.submit(back, lease_id, b"a car")
    # The task whose offer died with B is offered again by the survivor.
    await survivor.round()
    assert the_offer(back).task.client_task_id == "c2"


async def test_a_relay_that_is_stopped_still_sends_what_was_logged() -> None:
    cluster = Cluster()
    a = await cluster.replica("A", 0, 1)
    session = await connect(a, "w1")
    await a.dispatch.disconnect(session)  # a replica shutting down ends its connections
    expected = [e for t in cluster.state.log if t.event_id and (e := event_of(t))]

    relay = asyncio.create_task(a.replication.run_relay())
    await asyncio.sleep(0)  # it takes its turn, and is stopped while reading
    relay.cancel()
    with pytest.raises(asyncio.CancelledError):
        await relay

    assert cluster.kafka.events == expected
    assert [type(e) for e in expected] == [WorkerPresenceChanged, WorkerPresenceChanged]


async def test_a_replica_knows_whether_it_is_alone() -> None:
    cluster = Cluster()
    first = await cluster.replica("A", 0, 1)
    assert first.replication.alone

    second = await cluster.replica("B")
    assert not second.replication.alone
    assert first.replication.alone  # until its next liveness round
    await first.replication.check_liveness()
    assert not first.replication.alone

    await second.replication.leave()  # stopping: its liveness ends at once
    await first.replication.check_liveness()
    assert first.replication.alone


async def test_only_a_replica_alone_waits_between_reads_of_the_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = Cluster()
    first = await cluster.replica("A", 0, 1)
    waits: list[float] = []

    async def recorded(seconds: float) -> None:
        if seconds:  # the memory log yields with sleep(0) on every read
            waits.append(seconds)

    monkeypatch.setattr("dispatcher.service_layer.replication.asyncio.sleep", recorded)
    await first.replication.run_follow_once()
    assert waits == [ReplicationConfig().linger_s]

    await cluster.replica("B")
    await first.replication.check_liveness()
    await first.replication.run_follow_once()
    assert waits == [ReplicationConfig().linger_s]  # others' entries are read at once


async def test_a_task_expired_by_another_replica_leaves_its_owners_policy() -> None:
    cluster = Cluster()
    owner, sweeper = await cluster.replica("A", 0), await cluster.replica("B")
    task = replace(bbox("c1"), deadline=START + timedelta(seconds=30))
    await owner.dispatch.ingest(task)
    cluster.clock.advance(31)

    await sweeper.dispatch._expire_overdue_tasks()
    await owner.catch_up()

    policy = owner.dispatch.policy
    assert isinstance(policy, RoundRobinPolicy)
    assert task.task_id not in policy._queue
    session = await connect(owner, "w1")
    await cluster.settle(owner, sweeper)
    assert offers_in(drain(session)) == []
    assert await sweeper.replication.relay() is not None
    assert cluster.kafka.of_type(TaskCancelled) == [
        TaskCancelled(task.task_id, "lab-a", "deadline passed")
    ]


async def test_pools_gained_while_the_store_failed_are_loaded_by_the_next_rebuild() -> None:
    cluster = Cluster()
    a = await cluster.replica("A", 0)
    await a.dispatch.ingest(transcribe("t0"))  # partition 1: not A's yet
    store = a.dispatch.ownership._store
    real_queued_tasks = store.queued_tasks

    async def failing(pools: list[str]) -> list[Task]:
        raise ConnectionError("Redis restarting")

    store.queued_tasks = failing  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await a.dispatch.ownership.own(frozenset({0, 1}), partition_of)
    store.queued_tasks = real_queued_tasks  # type: ignore[method-assign]
    # A later assignment gaining nothing new must not leave partition 1's task unloaded.
    await a.dispatch.ownership.own(frozenset({0, 1}), partition_of)
    await a.dispatch.ownership.rebuild_if_wanted()

    policy = a.dispatch.policy
    assert isinstance(policy, RoundRobinPolicy)
    assert {task.pool for task in policy._queue.values()} == {"lab-a/transcribe"}
