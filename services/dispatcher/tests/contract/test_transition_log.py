"""The transition log, connections and replica liveness: the same contract for the in-memory
fake and for Redis with its scripts."""

from store_helpers import (
    ALIVE,
    BY,
    POOL,
    REPLICA,
    T0,
    Stores,
    at,
    connected,
    dropped,
    hello,
    leased,
    make_task,
    queued,
    take,
    ttl,
)

from dispatcher.domain.events import OfferOutcome
from dispatcher.service_layer.ports import TaskStore, TransitionLog
from dispatcher.service_layer.transitions import (
    Assigned,
    Cancelled,
    Change,
    Connected,
    Disconnected,
    Noted,
    Offered,
    OfferEnded,
    Queued,
    Released,
    Submitted,
    Transition,
    event_of,
)


async def written(log: TransitionLog, after: str = "0-0") -> list[Transition]:
    return await log.read(after, 1000, 0.0)


def kinds(entries: list[Transition]) -> list[type[Change]]:
    return [type(t.change) for t in entries]


class TestEveryChangeIsLogged:
    async def test_a_task_from_queue_to_submission(self, stores: Stores) -> None:
        store, log = stores.tasks, stores.log
        task = make_task("c1")
        await leased(store, task)  # queued, connected, offered, assigned
        await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))

        entries = await written(log)

        assert kinds(entries) == [Queued, Connected, Offered, Assigned, Submitted]
        assert {t.origin for t in entries} == {REPLICA}
        assert [t.at for t in entries] == [T0, T0, T0, at(1), at(10)]
        queued_, connected_, offered, assigned, submitted = (t.change for t in entries)
        assert queued_ == Queued(task)
        assert connected_ == Connected(hello("w1"), 1, REPLICA)
        assert isinstance(offered, Offered)
        assert (offered.offer.offer_id, offered.offer.task, offered.offer.worker_id) == (
            "offer-l1",
            task,
            "w1",
        )
        assert (offered.by, offered.region, offered.holder, offered.seq) == (BY, "eu", REPLICA, 1)
        assert isinstance(assigned, Assigned)
        assert (assigned.lease.lease_id, assigned.lease.leased_at, assigned.by) == ("l1", at(1), BY)
        assert isinstance(submitted, Submitted)
        assert (submitted.submission_id, submitted.answer, submitted.worked_s) == (
            "s1",
            b"3 cars",
            9,
        )
        assert submitted.lease.lease_id == "l1"
        # Each entry but the internal one (the platform API publishes submissions) is an event,
        # with an id of its own.
        ids = [t.event_id for t in entries if event_of(t) is not None]
        assert len(ids) == 4
        assert len(set(ids)) == 4
        assert entries[0].event_id == ""

    async def test_offers_that_end_say_how_and_who_made_them(self, stores: Stores) -> None:
        store, log = stores.tasks, stores.log
        await queued(store, make_task("c1"), make_task("c2"))
        await take(store, [POOL], "w1", "o1", ttl())
        await take(store, [POOL], "w2", "o2", ttl())
        start = await log.end()

        await store.close_offer("o1", "w1", OfferOutcome.DECLINED, at(3))
        await store.close_offer("o2", None, OfferOutcome.EXPIRED, at(4))

        ended = [t.change for t in await written(log, start)]
        assert [
            (e.offer.offer_id, e.outcome, e.by) for e in ended if isinstance(e, OfferEnded)
        ] == [
            ("o1", OfferOutcome.DECLINED, BY),
            ("o2", OfferOutcome.EXPIRED, BY),
        ]

    async def test_cancellations_are_logged_with_the_withdrawn_offer(self, stores: Stores) -> None:
        store, log = stores.tasks, stores.log
        offered, waiting = make_task("c1"), make_task("c2")
        await queued(store, offered, waiting)
        await take(store, [POOL], "w1", "o1", ttl())  # offers c1
        start = await log.end()

        await store.cancel(offered.platform_id, offered.task_id)
        await store.cancel(waiting.platform_id, waiting.task_id)

        changes = [t.change for t in await written(log, start)]
        assert changes == [
            Cancelled(offered.task_id, POOL, "o1", "w1", BY),
            Cancelled(waiting.task_id, POOL),
        ]

    async def test_a_released_lease_is_paid_to_its_last_sign_of_life(self, stores: Stores) -> None:
        store, log = stores.tasks, stores.log
        await leased(store, make_task("c1"))
        await store.heartbeat("l1", "w1", b"half", at(31))
        await dropped(store, "w1", at(100), at(40))
        start = await log.end()

        await store.release("l1", "grace period ended", at(100))

        [released] = [t.change for t in await written(log, start)]
        assert isinstance(released, Released)
        assert (released.lease.lease_id, released.worked_s, released.reason, released.by) == (
            "l1",
            39,
            "grace period ended",
            BY,
        )

    async def test_a_replica_reads_back_its_own_entries_as_notes(self, stores: Stores) -> None:
        store, log = stores.tasks, stores.log
        task = make_task("c1")
        await leased(store, task)
        await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))

        entries = await log.read("0-0", 100, 0.0, noting=REPLICA)
        others = await log.read("0-0", 100, 0.0, noting="r2")

        assert [t.change for t in entries] == [
            Noted("queued", task_id=task.task_id),
            Noted("connected", "w1"),
            Noted("offered", "w1", task.task_id, "offer-l1", "", BY),
            Noted("assigned", "w1", task.task_id, "offer-l1", "l1", BY),
            Noted("submitted", "w1", task.task_id, "offer-l1", "l1", BY),
        ]
        assert [t.position for t in entries] == [t.position for t in others]
        assert kinds(others) == [Queued, Connected, Offered, Assigned, Submitted]


class TestConnections:
    async def test_a_new_connection_supersedes_the_last_and_takes_its_lease(
        self, store: TaskStore
    ) -> None:
        await leased(store, make_task("c1"))
        await dropped(store, "w1", at(100), at(5))

        again = await store.connect_worker(hello("w1"), at(10))

        assert again.seq == 2
        assert again.lease is not None
        assert (again.lease.lease_id, again.by, again.withdrawn) == ("l1", BY, None)
        assert await store.overdue_leases(at(1000), 10) == []  # back within grace
        [online] = await store.online_workers()
        assert (online.hello, online.seq, online.holder) == (hello("w1"), 2, REPLICA)
        assert (online.task_id, online.offer_id, online.lease_id, online.by) == (
            make_task("c1").task_id,
            "offer-l1",
            "l1",
            BY,
        )

    async def test_connecting_again_withdraws_the_earlier_connections_offer(
        self, store: TaskStore
    ) -> None:
        task = make_task("c1")
        await queued(store, task)
        await take(store, [POOL], "w1", "o1", ttl())

        again = await store.connect_worker(hello("w1"), at(10))

        assert again.withdrawn is not None
        assert (again.withdrawn.offer.offer_id, again.withdrawn.by) == ("o1", BY)
        assert again.lease is None
        assert [t.client_task_id for t in await store.queued_tasks([POOL])] == ["c1"]

    async def test_only_the_current_connection_can_end(self, store: TaskStore) -> None:
        await queued(store, make_task("c1"))
        await take(store, [POOL], "w1", "o1", ttl())
        await store.connect_worker(hello("w1"), at(1))  # seq 2 now

        stale = await store.disconnect_worker("w1", 1, None, at(2), at(100), at(2))
        elsewhere = await store.disconnect_worker("w1", None, "r9", None, at(100), at(2))

        assert (stale.ended, elsewhere.ended) == (False, False)
        assert [w.seq for w in await store.online_workers()] == [2]
        ended = await store.disconnect_worker("w1", 2, None, at(3), at(100), at(3))
        assert ended.ended
        assert await store.online_workers() == []

    async def test_the_end_of_a_connection_withdraws_the_offer_and_starts_grace(
        self, store: TaskStore
    ) -> None:
        await leased(store, make_task("c1"), "w1", "l1")
        await queued(store, make_task("c2"))
        await take(store, [POOL], "w2", "o2", ttl())

        lessee = await store.disconnect_worker("w1", None, REPLICA, at(20), at(100), at(20))
        offeree = await store.disconnect_worker("w2", None, REPLICA, None, at(100), at(20))

        assert (lessee.ended, lessee.withdrawn) == (True, None)
        assert offeree.withdrawn is not None
        assert offeree.withdrawn.offer.offer_id == "o2"
        assert await store.overdue_leases(at(100), 10) == ["l1"]
        lease = await store.get_lease("l1")
        assert lease is not None
        assert (lease.last_seen, lease.active) == (at(20), True)

    async def test_ending_a_connection_without_a_time_keeps_the_last_heartbeat(
        self, store: TaskStore
    ) -> None:
        await leased(store, make_task("c1"))
        await store.heartbeat("l1", "w1", None, at(30))

        await store.disconnect_worker("w1", None, REPLICA, None, at(100), at(90))

        lease = await store.get_lease("l1")
        assert lease is not None
        assert lease.last_seen == at(30)

    async def test_connections_are_logged_with_the_lease_resumed(self, stores: Stores) -> None:
        store, log = stores.tasks, stores.log
        await leased(store, make_task("c1"))
        start = await log.end()

        await dropped(store, "w1", at(100), at(5))
        await connected(store, "w1")

        changes = [t.change for t in await written(log, start)]
        assert changes == [
            Disconnected("w1", "eu", 1, REPLICA),
            Connected(hello("w1"), 2, REPLICA, "l1", make_task("c1").task_id, "offer-l1", BY),
        ]


class TestLogAndReplicas:
    async def test_reading_resumes_after_a_position(self, stores: Stores) -> None:
        store, log = stores.tasks, stores.log
        assert await log.end() == "0-0"
        assert await written(log) == []
        await queued(store, make_task("c1"), make_task("c2"), make_task("c3"))

        first = await log.read("0-0", 2, 0.0)
        rest = await log.read(first[-1].position, 10, 0.0)

        assert [t.change for t in first + rest] == [
            Queued(make_task("c1")),
            Queued(make_task("c2")),
            Queued(make_task("c3")),
        ]
        assert await log.end() == rest[-1].position
        assert await log.read(rest[-1].position, 10, 0.0) == []

    async def test_entries_stay_until_every_live_replica_has_read_them(
        self, stores: Stores
    ) -> None:
        store, log = stores.tasks, stores.log
        await queued(store, make_task("c1"), make_task("c2"), make_task("c3"))
        c1, c2, c3 = await written(log)
        await log.beat("slow", ALIVE)
        await log.read_up_to(REPLICA, c3.position)
        await log.read_up_to("slow", c1.position)
        await log.read_up_to("gone", "0-0")  # no longer alive: not waited for

        await log.mark_published(c3.position, T0)

        assert await log.published() == c3.position
        assert await written(log) == [c2, c3]
        await log.read_up_to("slow", c3.position)
        await log.mark_published(c3.position, T0)
        assert await written(log) == []

    async def test_replicas_live_until_their_time_runs_out(self, stores: Stores) -> None:
        store, log = stores.tasks, stores.log
        await connected(store, "w1", "w2")
        await log.beat("r2", at(10))

        assert await log.dead(at(10)) == []
        assert "r2" in await log.alive(at(10))
        assert await log.dead(at(11)) == ["r2"]
        assert "r2" not in await log.alive(at(11))
        assert sorted(await log.connections_of(REPLICA)) == ["w1", "w2"]
        await log.forget("r2")
        assert await log.dead(at(11)) == []

    async def test_one_replica_at_a_time_relays(self, stores: Stores) -> None:
        log = stores.log

        assert await log.lead("r1", 5.0)
        assert not await log.lead("r2", 5.0)
        assert await log.lead("r1", 5.0)
        assert await log.published() == "0-0"
