"""One contract, two stores: the in-memory fake must behave exactly like Redis and its scripts."""

import dataclasses

import pytest
from store_helpers import (
    BY,
    OTHER,
    PLATFORM,
    POOL,
    PURPOSE,
    REPLICA,
    T0,
    Stores,
    at,
    connected,
    dropped,
    leased,
    make_task,
    offer_ids,
    queued,
    take,
    ttl,
)

from dispatcher.domain.errors import ConflictError, NotFoundError
from dispatcher.domain.events import OfferOutcome
from dispatcher.domain.model import TaskState, TaskType, pool_of
from dispatcher.service_layer.ports import Accepted, OfferWanted, TaskStore
from fairtask_runtime.answers import answer_task_id


class TestTaskTypes:
    async def test_get_many_returns_only_known_types_of_that_platform(self, stores: Stores) -> None:
        bbox = TaskType("bbox", PURPOSE, 400_000, 90, ("vision", "en"), sensitive=True)
        await stores.types.put(PLATFORM, bbox)

        assert await stores.types.get_many(PLATFORM, ["bbox", "nope"]) == {"bbox": bbox}
        assert await stores.types.get_many(OTHER, ["bbox"]) == {}
        assert await stores.types.get_many(PLATFORM, []) == {}

    async def test_put_replaces(self, stores: Stores) -> None:
        await stores.types.put(PLATFORM, TaskType("bbox", PURPOSE, 400_000, 90))
        newer = TaskType("bbox", PURPOSE, 500_000, 60)
        await stores.types.put(PLATFORM, newer)

        assert await stores.types.get_many(PLATFORM, ["bbox"]) == {"bbox": newer}


class TestSubmissionAndIngest:
    async def test_an_accepted_task_is_queued_before_it_is_ingested(self, store: TaskStore) -> None:
        task = make_task("c1")
        await store.record_accepted(PLATFORM, [Accepted("c1", task.task_id, "fp1", "bbox")])

        status = await store.status(PLATFORM, task.task_id)

        assert status is not None
        assert (status.client_task_id, status.task_type, status.state) == (
            "c1",
            "bbox",
            TaskState.QUEUED,
        )
        assert status.worker_id == ""

    async def test_ingest_is_idempotent(self, store: TaskStore) -> None:
        task = make_task("c1")

        assert await store.ingest(task, T0)
        assert not await store.ingest(task, T0)

        assert await offer_ids(store, [POOL], 1) == ["c1"]
        assert await take(store, [POOL], "w9", "o9", ttl()) is None

    async def test_ingest_many_queues_in_order_and_skips_what_is_known(
        self, store: TaskStore
    ) -> None:
        first, second, third = make_task("c1"), make_task("c2"), make_task("c3")
        await queued(store, second)

        assert await store.ingest_many([first, second, third, first], T0) == [
            True,
            False,
            True,
            False,
        ]

        assert await offer_ids(store, [POOL], 3) == ["c2", "c1", "c3"]
        assert await store.ingest_many([], T0) == []

    async def test_ingest_after_record_accepted_queues_once(self, store: TaskStore) -> None:
        task = make_task("c1")
        await store.record_accepted(PLATFORM, [Accepted("c1", task.task_id, "fp1", "bbox")])
        await store.record_accepted(PLATFORM, [Accepted("c1", task.task_id, "fp1", "bbox")])

        assert await store.ingest(task, T0)
        assert not await store.ingest(task, T0)
        assert await offer_ids(store, [POOL], 1) == ["c1"]

    async def test_record_accepted_after_ingest_changes_nothing(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)
        await take(store, [POOL], "w1", "o1", ttl())

        await store.record_accepted(PLATFORM, [Accepted("c1", task.task_id, "fp1", "bbox")])

        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert status.state is TaskState.OFFERED

    async def test_a_task_cancelled_before_ingest_is_never_queued(self, store: TaskStore) -> None:
        task = make_task("c1")
        await store.record_accepted(PLATFORM, [Accepted("c1", task.task_id, "fp1", "bbox")])
        assert (await store.cancel(PLATFORM, task.task_id)).state is TaskState.CANCELLED

        assert not await store.ingest(task, T0)

        assert await take(store, [POOL], "w1", "o1", ttl()) is None
        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert status.state is TaskState.CANCELLED

    async def test_known_pools_keep_the_first_skills_seen(self, store: TaskStore) -> None:
        await queued(store, make_task("c1", skills=("vision",)))
        await queued(store, make_task("c2", skills=("audio",)))
        await queued(store, make_task("c3", task_type="transcribe", skills=()))

        assert await store.known_pools() == {
            POOL: ("vision",),
            pool_of(PLATFORM, "transcribe"): (),
        }

    async def test_a_further_answer_is_queued_only_while_its_task_waits_for_answers(
        self, store: TaskStore
    ) -> None:
        original = make_task("c1")
        await leased(store, original)
        assert await store.complete("l1", "w1", b"yes", 9, "s1", at(10))
        second, third = (
            dataclasses.replace(
                original,
                task_id=answer_task_id(original.task_id, n),
                answer_of=original.task_id,
                answer_number=n,
            )
            for n in (2, 3)
        )
        assert await store.ingest(second, T0)

        # Scoring settled the task; a request for a third answer still in Kafka comes late.
        await store.settle(original.task_id, [second.task_id, third.task_id])
        assert not await store.ingest(third, T0)
        assert await store.status(PLATFORM, third.task_id) is None
        # A copy of a task never known here is not queued either.
        stranger = dataclasses.replace(third, task_id="answer-2-of-x", answer_of="x")
        assert not await store.ingest(stranger, T0)
        assert [t.task_id for t in await store.queued_tasks([POOL])] == [second.task_id]


class TestOffers:
    async def test_a_chosen_queued_task_can_be_offered_once(self, store: TaskStore) -> None:
        first, second = make_task("c1"), make_task("c2")
        await queued(store, first, second)
        await connected(store, "w1", "w2")

        made = await store.offer_task(second.task_id, "w1", "o1", ttl(30), "eu", BY, T0)

        assert made.offer is not None
        assert (made.offer.offer_id, made.offer.worker_id, made.offer.expires_at) == (
            "o1",
            "w1",
            ttl(30),
        )
        assert made.offer.task == second
        assert (made.holder, made.seq) == (REPLICA, 1)
        again = await store.offer_task(second.task_id, "w2", "o2", ttl(), "eu", BY, T0)
        assert (again.offer, again.refused) == (None, "task")
        assert [t.client_task_id for t in await store.queued_tasks([POOL])] == ["c1"]
        assert await store.queue_depth([POOL, "no-such-pool"]) == 1
        await store.close_offer("o1", "w1", OfferOutcome.DECLINED, at(1))
        assert [t.client_task_id for t in await store.queued_tasks([POOL])] == ["c1", "c2"]
        assert await store.queue_depth([POOL]) == 2

    async def test_cancelled_or_unknown_tasks_cannot_be_offered(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)
        await store.cancel(PLATFORM, task.task_id)
        await connected(store, "w1")

        for task_id in (task.task_id, "no-such-task"):
            made = await store.offer_task(task_id, "w1", "o1", ttl(), "eu", BY, T0)
            assert (made.offer, made.refused) == (None, "task")
        assert await store.queued_tasks([POOL]) == []
        assert await store.expired_offers(at(1000), 10) == []

    async def test_a_worker_holds_one_offer_at_a_time_and_none_while_leased(
        self, store: TaskStore
    ) -> None:
        await queued(store, make_task("c1"), make_task("c2"), make_task("c3"))
        [c1, c2, c3] = await store.queued_tasks([POOL])
        await connected(store, "w1")
        assert (await store.offer_task(c1.task_id, "w1", "o1", ttl(), "eu", BY, T0)).offer

        busy = await store.offer_task(c2.task_id, "w1", "o2", ttl(), "eu", "r2/0", T0)

        assert (busy.offer, busy.refused) == (None, "worker")
        await store.accept("o1", "w1", "l1", "eu", at(1))
        leased_busy = await store.offer_task(c2.task_id, "w1", "o2", ttl(), "eu", BY, T0)
        assert (leased_busy.offer, leased_busy.refused) == (None, "worker")
        await store.complete("l1", "w1", b"done", 1, "s1", at(2))
        assert (await store.offer_task(c3.task_id, "w1", "o3", ttl(), "eu", BY, T0)).offer
        assert [t.client_task_id for t in await store.queued_tasks([POOL])] == ["c2"]

    async def test_offers_made_together_are_each_made_in_turn(self, store: TaskStore) -> None:
        await queued(store, make_task("c1"), make_task("c2"), make_task("c3"))
        [c1, c2, c3] = await store.queued_tasks([POOL])
        await connected(store, "w1", "w2")
        wanted = [
            OfferWanted(c1.task_id, "w1", "o1", ttl(30), "eu", BY),
            OfferWanted(c2.task_id, "w1", "o2", ttl(30), "eu", BY),  # w1 has o1 by now
            OfferWanted(c1.task_id, "w2", "o3", ttl(30), "eu", BY),  # c1 is offered by now
            OfferWanted(c3.task_id, "w2", "o4", ttl(30), "eu", BY),
        ]

        made = await store.offer_tasks(wanted, T0)

        assert [(m.offer and m.offer.offer_id, m.refused) for m in made] == [
            ("o1", ""),
            (None, "worker"),
            (None, "task"),
            ("o4", ""),
        ]
        assert made[3].offer is not None
        assert made[3].offer.task == c3
        assert [(m.holder, m.seq) for m in (made[0], made[3])] == [(REPLICA, 1), (REPLICA, 2)]
        assert [t.client_task_id for t in await store.queued_tasks([POOL])] == ["c2"]
        assert await store.offer_tasks([], T0) == []

    async def test_only_workers_connected_to_a_live_replica_get_offers(
        self, stores: Stores
    ) -> None:
        store = stores.tasks
        await queued(store, make_task("c1"))
        [task] = await store.queued_tasks([POOL])

        absent = await store.offer_task(task.task_id, "w1", "o1", ttl(), "eu", BY, T0)
        await connected(store, "w1")
        await stores.log.beat(REPLICA, at(-1))
        dead = await store.offer_task(task.task_id, "w1", "o1", ttl(), "eu", BY, T0)

        assert (absent.refused, dead.refused) == ("worker", "worker")
        assert [t.client_task_id for t in await store.queued_tasks([POOL])] == ["c1"]

    async def test_tasks_are_offered_in_arrival_order(self, store: TaskStore) -> None:
        await queued(store, make_task("c1"), make_task("c2"), make_task("c3"))

        assert await offer_ids(store, [POOL], 3) == ["c1", "c2", "c3"]
        assert await take(store, [POOL], "w9", "o9", ttl()) is None

    async def test_a_declined_task_goes_back_to_its_original_place(self, store: TaskStore) -> None:
        await queued(store, make_task("c1"), make_task("c2"), make_task("c3"))
        first = await take(store, [POOL], "w1", "o1", ttl())
        second = await take(store, [POOL], "w2", "o2", ttl())
        assert first is not None
        assert second is not None

        await store.close_offer("o2", "w2", OfferOutcome.DECLINED, at(1))
        await store.close_offer("o1", "w1", OfferOutcome.DECLINED, at(1))

        assert await offer_ids(store, [POOL], 3) == ["c1", "c2", "c3"]

    async def test_the_offer_names_the_task_worker_and_expiry(self, store: TaskStore) -> None:
        task = make_task("c1", skills=("vision",), gold="cat")
        await queued(store, task)

        offer = await take(store, [POOL], "w1", "o1", ttl(30))

        assert offer is not None
        assert (offer.offer_id, offer.worker_id, offer.expires_at) == ("o1", "w1", ttl(30))
        assert offer.task == task
        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert (status.state, status.worker_id) == (TaskState.OFFERED, "w1")

    async def test_cancelled_tasks_are_skipped(self, store: TaskStore) -> None:
        a, b = make_task("c1"), make_task("c2")
        await queued(store, a, b)
        await store.cancel(PLATFORM, a.task_id)

        assert await offer_ids(store, [POOL], 1) == ["c2"]
        assert await take(store, [POOL], "w9", "o9", ttl()) is None

    async def test_close_offer_by_the_wrong_worker_changes_nothing(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)
        await take(store, [POOL], "w1", "o1", ttl())

        assert await store.close_offer("o1", "w2", OfferOutcome.DECLINED, at(1)) is None

        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert status.state is TaskState.OFFERED
        lease = await store.accept("o1", "w1", "l1", "eu", at(1))
        assert lease.task == task

    async def test_close_offer_returns_the_offer_once(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)
        await take(store, [POOL], "w1", "o1", ttl(30))

        closed = await store.close_offer("o1", None, OfferOutcome.EXPIRED, at(1))

        assert closed is not None
        assert closed.by == BY
        offer = closed.offer
        assert (offer.offer_id, offer.worker_id, offer.expires_at) == ("o1", "w1", ttl(30))
        assert offer.task == task
        assert await store.close_offer("o1", None, OfferOutcome.EXPIRED, at(1)) is None
        assert await store.close_offer("unknown", None, OfferOutcome.EXPIRED, at(1)) is None
        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert (status.state, status.worker_id) == (TaskState.QUEUED, "")

    async def test_expired_offers_are_listed_by_expiry(self, store: TaskStore) -> None:
        await queued(store, make_task("c1"), make_task("c2"), make_task("c3"))
        await take(store, [POOL], "w1", "late", at(20))
        await take(store, [POOL], "w2", "early", at(10))
        await take(store, [POOL], "w3", "closed", at(5))
        await store.close_offer("closed", "w3", OfferOutcome.DECLINED, at(1))

        assert await store.expired_offers(at(9), 10) == []
        assert await store.expired_offers(at(10), 10) == ["early"]
        assert await store.expired_offers(at(30), 10) == ["early", "late"]
        assert await store.expired_offers(at(30), 1) == ["early"]


class TestAccept:
    async def test_accept_turns_the_offer_into_a_lease(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)
        await take(store, [POOL], "w1", "o1", ttl())

        lease = await store.accept("o1", "w1", "l1", "eu", at(5))

        assert (lease.lease_id, lease.worker_id, lease.region, lease.offer_id) == (
            "l1",
            "w1",
            "eu",
            "o1",
        )
        assert (lease.leased_at, lease.last_seen, lease.draft, lease.active) == (
            at(5),
            at(5),
            b"",
            True,
        )
        assert lease.task == task
        assert await store.get_lease("l1") == lease
        assert await store.lease_of("w1") == lease
        assert await store.expired_offers(at(1000), 10) == []
        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert (status.state, status.worker_id) == (TaskState.LEASED, "w1")

    async def test_someone_elses_offer_cannot_be_accepted(self, store: TaskStore) -> None:
        await queued(store, make_task("c1"))
        await take(store, [POOL], "w1", "o1", ttl())

        with pytest.raises(NotFoundError):
            await store.accept("o1", "w2", "l1", "eu", at(1))

        assert await store.get_lease("l1") is None
        assert await store.lease_of("w2") is None
        assert (await store.accept("o1", "w1", "l1", "eu", at(1))).worker_id == "w1"

    async def test_an_expired_offer_cannot_be_accepted(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)
        await take(store, [POOL], "w1", "o1", at(10))

        with pytest.raises(ConflictError):
            await store.accept("o1", "w1", "l1", "eu", at(10))

        assert await store.get_lease("l1") is None
        # Still outstanding until the timer closes it, which requeues the task.
        assert await store.expired_offers(at(10), 10) == ["o1"]
        assert await store.close_offer("o1", None, OfferOutcome.EXPIRED, at(1)) is not None
        assert await offer_ids(store, [POOL], 1) == ["c1"]

    async def test_an_offer_is_accepted_once(self, store: TaskStore) -> None:
        await queued(store, make_task("c1"))
        await take(store, [POOL], "w1", "o1", ttl())
        await store.accept("o1", "w1", "l1", "eu", at(1))

        with pytest.raises(NotFoundError):
            await store.accept("o1", "w1", "l2", "eu", at(2))

        assert await store.get_lease("l2") is None
        lease = await store.lease_of("w1")
        assert lease is not None
        assert lease.lease_id == "l1"

    async def test_closed_or_unknown_offers_cannot_be_accepted(self, store: TaskStore) -> None:
        await queued(store, make_task("c1"))
        await take(store, [POOL], "w1", "o1", ttl())
        await store.close_offer("o1", "w1", OfferOutcome.DECLINED, at(1))

        with pytest.raises(NotFoundError):
            await store.accept("o1", "w1", "l1", "eu", at(1))
        with pytest.raises(NotFoundError):
            await store.accept("unknown", "w1", "l1", "eu", at(1))


class TestLeases:
    async def test_heartbeat_records_life_and_the_draft(self, store: TaskStore) -> None:
        await leased(store, make_task("c1"))

        lease = await store.heartbeat("l1", "w1", b"half done", at(30))
        assert (lease.last_seen, lease.draft) == (at(30), b"half done")

        lease = await store.heartbeat("l1", "w1", None, at(40))
        assert (lease.last_seen, lease.draft) == (at(40), b"half done")
        assert lease.worked_seconds() == 39
        assert await store.get_lease("l1") == lease

    async def test_heartbeat_on_someone_elses_lease_is_refused(self, store: TaskStore) -> None:
        await leased(store, make_task("c1"))

        with pytest.raises(NotFoundError):
            await store.heartbeat("l1", "w2", b"mine now", at(30))
        with pytest.raises(NotFoundError):
            await store.heartbeat("unknown", "w1", None, at(30))

        lease = await store.get_lease("l1")
        assert lease is not None
        assert (lease.last_seen, lease.draft) == (at(1), b"")

    async def test_heartbeat_on_a_finished_lease_is_refused(self, store: TaskStore) -> None:
        await leased(store, make_task("c1"))
        await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))

        with pytest.raises(NotFoundError):
            await store.heartbeat("l1", "w1", None, at(30))

    async def test_complete_marks_the_task_submitted_once(self, store: TaskStore) -> None:
        task = make_task("c1")
        await leased(store, task)
        await dropped(store, "w1", at(100), at(5))

        assert await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))
        assert not await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))

        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert status.state is TaskState.SUBMITTED
        assert await store.lease_of("w1") is None
        assert await store.overdue_leases(at(1000), 10) == []
        # Ended: whose it was is still known (a repeat of the submit is told apart from a
        # stranger's); the lease itself is no longer active, if it is read at all.
        lease = await store.get_lease("l1")
        assert lease is None or not lease.active
        assert await store.lease_worker("l1") == "w1"
        assert await store.lease_worker("l-unknown") is None

    async def test_a_task_delivered_again_after_its_work_is_done_is_not_queued_again(
        self, store: TaskStore
    ) -> None:
        # Kafka may deliver tasks.submitted again at any time (a rebalance, a restart): the
        # store tells the repeat apart by task id, for as long as it keeps the task.
        task = make_task("c1")
        await leased(store, task)
        assert await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))

        assert not await store.ingest(task, at(20))
        assert await store.ingest_many([task, make_task("c2")], at(20)) == [False, True]

        assert await offer_ids(store, [POOL], 1) == ["c2"]
        assert await take(store, [POOL], "w9", "o9", ttl()) is None
        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert status.state is TaskState.SUBMITTED

    async def test_complete_by_someone_else_is_refused(self, store: TaskStore) -> None:
        await leased(store, make_task("c1"))

        with pytest.raises(NotFoundError):
            await store.complete("l1", "w2", b"3 cars", 9, "s1", at(10))
        with pytest.raises(NotFoundError):
            await store.complete("unknown", "w1", b"3 cars", 9, "s1", at(10))

        assert await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))

    async def test_grace_periods_start_once_and_fall_due_in_order(self, store: TaskStore) -> None:
        await leased(store, make_task("c1"), "w1", "l1")
        await leased(store, make_task("c2"), "w2", "l2")
        await dropped(store, "w2", at(50), at(2))
        await dropped(store, "w1", at(60), at(2))
        await connected(store, "w2")
        await dropped(store, "w2", at(500), at(3))  # grace starts again from the new drop

        assert await store.overdue_leases(at(59), 10) == []
        assert await store.overdue_leases(at(60), 10) == ["l1"]
        assert await store.overdue_leases(at(500), 10) == ["l1", "l2"]
        assert await store.overdue_leases(at(500), 1) == ["l1"]

        await connected(store, "w1")  # back: grace over
        assert await store.overdue_leases(at(500), 10) == ["l2"]
        assert (await store.disconnect_worker("w2", None, None, at(4), at(9), at(4))).ended is False

    async def test_release_requeues_the_task_at_its_place(self, store: TaskStore) -> None:
        first = make_task("c1")
        await leased(store, first)
        await queued(store, make_task("c2"))
        await store.heartbeat("l1", "w1", b"draft", at(20))
        await dropped(store, "w1", at(100), at(25))

        released = await store.release("l1", "grace period ended", at(200))

        assert released is not None
        lease = released.lease
        assert (lease.lease_id, lease.worker_id, lease.active, lease.draft) == (
            "l1",
            "w1",
            True,
            b"draft",
        )
        assert (released.worked_s, released.by) == (24, BY)
        status = await store.status(PLATFORM, first.task_id)
        assert status is not None
        assert (status.state, status.worker_id) == (TaskState.QUEUED, "")
        assert await store.lease_of("w1") is None
        assert await store.overdue_leases(at(1000), 10) == []
        after = await store.get_lease("l1")
        assert after is None or not after.active
        assert await store.lease_worker("l1") == "w1"
        assert await offer_ids(store, [POOL], 2) == ["c1", "c2"]

    async def test_an_overdue_release_leaves_a_lease_whose_worker_came_back(
        self, store: TaskStore
    ) -> None:
        # The grace timer lists overdue leases, then releases each: the worker may reconnect
        # in between, and then keeps the lease and its draft.
        await leased(store, make_task("c1"))
        await store.heartbeat("l1", "w1", b"draft", at(20))
        await dropped(store, "w1", at(100), at(25))
        assert await store.overdue_leases(at(100), 10) == ["l1"]
        assert await store.release("l1", "grace period ended", at(99), overdue=True) is None

        await connected(store, "w1")
        assert await store.release("l1", "grace period ended", at(100), overdue=True) is None

        lease = await store.lease_of("w1")
        assert lease is not None
        assert (lease.lease_id, lease.draft) == ("l1", b"draft")
        # Gone again: its new grace period is left running until it too runs out.
        await dropped(store, "w1", at(500), at(30))
        assert await store.release("l1", "grace period ended", at(200), overdue=True) is None
        assert await store.overdue_leases(at(500), 10) == ["l1"]
        released = await store.release("l1", "grace period ended", at(500), overdue=True)
        assert released is not None
        assert released.worked_s == 29

    async def test_an_overdue_release_leaves_a_lease_never_in_grace(self, store: TaskStore) -> None:
        await leased(store, make_task("c1"))

        assert await store.release("l1", "grace period ended", at(200), overdue=True) is None

        assert await store.lease_of("w1") is not None

    async def test_release_is_idempotent(self, store: TaskStore) -> None:
        await leased(store, make_task("c1"))

        assert await store.release("l1", "grace period ended", at(200)) is not None
        assert await store.release("l1", "grace period ended", at(200)) is None
        assert await store.release("unknown", "grace period ended", at(200)) is None
        assert await offer_ids(store, [POOL], 1) == ["c1"]
        assert await take(store, [POOL], "w9", "o9", ttl()) is None

    async def test_a_released_lease_cannot_be_completed(self, store: TaskStore) -> None:
        await leased(store, make_task("c1"))
        await store.release("l1", "grace period ended", at(200))

        with pytest.raises(NotFoundError):
            await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))

    async def test_a_completed_lease_is_not_released_but_leaves_grace(
        self, store: TaskStore
    ) -> None:
        task = make_task("c1")
        await leased(store, task)
        await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))
        await dropped(store, "w1", at(10), at(10))  # a late disconnect

        assert await store.release("l1", "grace period ended", at(200)) is None

        assert await store.overdue_leases(at(1000), 10) == []
        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert status.state is TaskState.SUBMITTED

    async def test_a_released_task_can_be_leased_by_another_worker(self, store: TaskStore) -> None:
        task = make_task("c1")
        await leased(store, task, "w1", "l1")
        await store.release("l1", "grace period ended", at(200))

        offer = await take(store, [POOL], "w2", "o2", ttl())
        assert offer is not None
        lease = await store.accept("o2", "w2", "l2", "us", at(5))

        assert lease.task == task
        assert await store.lease_of("w2") == lease
        assert await store.lease_of("w1") is None


class TestStatusAndCancel:
    async def test_status_hides_unknown_and_other_platforms_tasks(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)

        assert await store.status(OTHER, task.task_id) is None
        assert await store.status(PLATFORM, "unknown") is None
        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert (status.task_id, status.client_task_id, status.task_type, status.state) == (
            task.task_id,
            "c1",
            "bbox",
            TaskState.QUEUED,
        )

    async def test_cancel_a_queued_task(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)

        outcome = await store.cancel(PLATFORM, task.task_id)

        assert (outcome.state, outcome.withdrawn) == (TaskState.CANCELLED, None)
        assert await take(store, [POOL], "w1", "o1", ttl()) is None
        again = await store.cancel(PLATFORM, task.task_id)
        assert (again.state, again.withdrawn) == (TaskState.CANCELLED, None)

    async def test_cancel_an_offered_task_withdraws_the_offer(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)
        await take(store, [POOL], "w1", "o1", ttl())

        outcome = await store.cancel(PLATFORM, task.task_id)

        assert outcome.state is TaskState.CANCELLED
        assert outcome.withdrawn is not None
        assert (outcome.withdrawn.offer_id, outcome.withdrawn.worker_id) == ("o1", "w1")
        assert outcome.withdrawn.expires_at == ttl()
        assert outcome.withdrawn.task == task
        assert await store.expired_offers(at(1000), 10) == []
        assert await store.close_offer("o1", None, OfferOutcome.EXPIRED, at(1)) is None
        with pytest.raises(NotFoundError):
            await store.accept("o1", "w1", "l1", "eu", at(1))
        assert await take(store, [POOL], "w2", "o2", ttl()) is None
        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert status.state is TaskState.CANCELLED
        assert status.worker_id == ""

    async def test_a_leased_task_cannot_be_cancelled(self, store: TaskStore) -> None:
        task = make_task("c1")
        await leased(store, task)

        with pytest.raises(ConflictError):
            await store.cancel(PLATFORM, task.task_id)

        status = await store.status(PLATFORM, task.task_id)
        assert status is not None
        assert status.state is TaskState.LEASED
        assert await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))

    async def test_a_submitted_task_cannot_be_cancelled(self, store: TaskStore) -> None:
        task = make_task("c1")
        await leased(store, task)
        await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))

        with pytest.raises(ConflictError):
            await store.cancel(PLATFORM, task.task_id)

    async def test_cancel_of_unknown_or_foreign_tasks_is_not_found(self, store: TaskStore) -> None:
        task = make_task("c1")
        await queued(store, task)

        with pytest.raises(NotFoundError):
            await store.cancel(PLATFORM, "unknown")
        with pytest.raises(NotFoundError):
            await store.cancel(OTHER, task.task_id)

        assert await offer_ids(store, [POOL], 1) == ["c1"]


class TestBacklog:
    """What counts against a platform's bound: accepted (even while still in Kafka) or queued,
    not yet offered."""

    async def test_accepted_and_queued_tasks_wait_offered_ones_do_not(
        self, store: TaskStore
    ) -> None:
        first, second, third = make_task("c1"), make_task("c2"), make_task("c3", "label")
        await store.record_accepted(
            PLATFORM, [Accepted(t.client_task_id, t.task_id, "fp", "bbox") for t in (first, second)]
        )
        assert await store.backlog(PLATFORM) == 2
        await queued(store, first, second, third)  # ingest moves them from Kafka to the queue
        assert await store.backlog(PLATFORM) == 3
        await take(store, [POOL], "w1", "o1", ttl())
        assert await store.backlog(PLATFORM) == 2
        await store.close_offer("o1", "w1", OfferOutcome.DECLINED, at(1))
        assert await store.backlog(PLATFORM) == 3  # back in the queue, waiting again
        await store.cancel(PLATFORM, second.task_id)
        assert await store.backlog(PLATFORM) == 2
        assert await store.backlog(OTHER) == 0

    async def test_a_task_recorded_after_its_ingest_is_not_counted_twice(
        self, store: TaskStore
    ) -> None:
        task = make_task("c1")
        await queued(store, task)
        await store.record_accepted(PLATFORM, [Accepted("c1", task.task_id, "fp", "bbox")])
        assert await store.backlog(PLATFORM) == 1
        await take(store, [POOL], "w1", "o1", ttl())
        assert await store.backlog(PLATFORM) == 0
