"""Offers, leases and their timers, driven step by step on fakes with a fake clock."""

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from dispatcher_world import (
    CONFIG,
    PLATFORM,
    START,
    World,
    assert_gone_and_grace_runs,
    drain,
    hello,
    in_grace,
    make_task,
    offers_in,
    store_replies_late,
)

from dispatcher import metrics
from dispatcher.domain.errors import (
    AlreadyDoneError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from dispatcher.domain.events import (
    LeaseReleased,
    OfferClosed,
    OfferOutcome,
    SubmissionReceived,
    TaskAssigned,
    TaskCancelled,
    TaskOffered,
    WorkerPresenceChanged,
)
from dispatcher.domain.model import Lease, Offer, TaskState, pool_of, submission_id_for
from dispatcher.service_layer.ports import Connection, Disconnection
from dispatcher.service_layer.sessions import (
    Closed,
    Hello,
    LeasePush,
    OfferWithdrawnPush,
    SubmitAcceptedPush,
    Welcome,
    WorkerSession,
)


async def connect(world: World, worker_id: str, skills: tuple[str, ...] = ()) -> WorkerSession:
    session = await world.dispatch.connect(hello(worker_id, skills))
    drain(session)  # the welcome
    return session


async def ingest(world: World, *client_ids: str) -> None:
    for client_id in client_ids:
        await world.dispatch.ingest(make_task(client_id, gold="the gold answer"))


async def offered(world: World, session: WorkerSession) -> Offer:
    """Runs a dispatch round and returns the one offer it pushed to this worker."""
    await world.dispatch._dispatch_round()
    [push] = offers_in(drain(session))
    return push.offer


async def leased(world: World, session: WorkerSession) -> str:
    offer = await offered(world, session)
    await world.dispatch.accept(session, offer.offer_id)
    [push] = drain(session)
    assert isinstance(push, LeasePush)
    return push.lease.lease_id


class TestOffers:
    async def test_an_idle_worker_gets_at_most_one_offer(self, world: World) -> None:
        await ingest(world, "c1", "c2", "c3")
        session = await connect(world, "w1")

        await world.dispatch._dispatch_round()
        await world.dispatch._dispatch_round()

        [push] = offers_in(drain(session))
        assert push.offer.task.client_task_id == "c1"
        assert session.offer_id == push.offer.offer_id
        assert push.offer.expires_at == START + timedelta(seconds=CONFIG.offer_ttl_s)
        assert [e.offer for e in world.events.of_type(TaskOffered)] == [push.offer]
        assert len(world.store.outstanding_offers()) == 1

    async def test_idle_workers_are_served_round_robin(self, world: World) -> None:
        w1 = await connect(world, "w1")
        w2 = await connect(world, "w2")
        await world.dispatch._dispatch_round()  # nothing to offer yet
        served: list[str] = []

        for client_id in ("c1", "c2", "c3", "c4"):
            await ingest(world, client_id)
            await world.dispatch._dispatch_round()
            for session in (w1, w2):
                for push in offers_in(drain(session)):
                    served.append(session.worker_id)
                    await world.dispatch.accept(session, push.offer.offer_id)
                    lease = await world.store.lease_of(session.worker_id)
                    assert lease is not None
                    await world.dispatch.submit(session, lease.lease_id, b"done")
                    drain(session)

        assert served == ["w1", "w2", "w1", "w2"]

    async def test_two_idle_workers_get_different_tasks(self, world: World) -> None:
        await ingest(world, "c1", "c2", "c3")
        w1 = await connect(world, "w1")
        w2 = await connect(world, "w2")

        first = await offered(world, w1)
        [second] = offers_in(drain(w2))

        assert (first.task.client_task_id, second.offer.task.client_task_id) == ("c1", "c2")

    async def test_workers_only_get_tasks_their_skills_fit(self, world: World) -> None:
        await world.dispatch.ingest(make_task("audio-1", "transcribe", skills=("audio",)))
        novice = await connect(world, "novice", ("vision",))
        expert = await connect(world, "expert", ("audio", "vision"))

        await world.dispatch._dispatch_round()

        assert offers_in(drain(novice)) == []
        [push] = offers_in(drain(expert))
        assert push.offer.task.client_task_id == "audio-1"

    async def test_quality_keeps_a_worker_out_of_a_pool_until_it_lets_them_back(
        self, world: World
    ) -> None:
        pool = pool_of(PLATFORM, "bbox")
        await ingest(world, "c1")
        session = await connect(world, "w1")
        await world.dispatch.requalify("w1", pool, eligible=False, version=7)
        assert session.hello.excluded_pools == {pool}

        await world.dispatch._dispatch_round()
        assert offers_in(drain(session)) == []

        await world.dispatch.requalify("w1", pool, eligible=True, version=6)  # older: ignored
        await world.dispatch._dispatch_round()
        assert offers_in(drain(session)) == []
        await world.dispatch.requalify("w1", pool, eligible=True, version=30)
        assert (await offered(world, session)).task.client_task_id == "c1"

    async def test_an_exclusion_recorded_elsewhere_applies_at_connection_and_reload(
        self, world: World
    ) -> None:
        pool = pool_of(PLATFORM, "bbox")
        await world.dispatch.exclusions.set("w1", pool, True, 7)  # as another replica would
        await ingest(world, "c1")
        session = await connect(world, "w1")
        await world.dispatch._dispatch_round()
        assert offers_in(drain(session)) == []

        await world.dispatch.exclusions.set("w1", pool, False, 8)
        assert await world.dispatch.reload_exclusions() == 1
        assert (await offered(world, session)).task.client_task_id == "c1"
        assert await world.dispatch.reload_exclusions() == 0

    async def test_exclusions_of_many_workers_are_reloaded_a_few_hundred_at_a_time(
        self, world: World
    ) -> None:
        pool = pool_of(PLATFORM, "bbox")
        workers = [f"w{i}" for i in range(1_201)]
        for worker_id in workers:
            await connect(world, worker_id)
            await world.dispatch.exclusions.set(worker_id, pool, True, 1)
        reads: list[int] = []
        of_many = world.dispatch.exclusions.of_many

        async def counted(worker_ids: Sequence[str]) -> dict[str, frozenset[str]]:
            reads.append(len(worker_ids))
            return await of_many(worker_ids)

        world.dispatch.exclusions.of_many = counted  # type: ignore[method-assign]

        assert await world.dispatch.reload_exclusions() == 1_201
        assert reads == [500, 500, 201]  # the loop runs other work between the reads
        assert all(world.dispatch.roster.profiles[w].excluded_pools == {pool} for w in workers)

    async def test_a_declined_task_is_requeued_and_offered_again(self, world: World) -> None:
        await ingest(world, "c1", "c2")
        session = await connect(world, "w1")
        offer = await offered(world, session)

        await world.dispatch.decline(session, offer.offer_id)

        assert world.events.of_type(OfferClosed) == [
            OfferClosed(offer.offer_id, offer.task.task_id, "w1", OfferOutcome.DECLINED)
        ]
        again = await offered(world, session)
        assert again.task.client_task_id == "c1"
        assert again.offer_id != offer.offer_id

    async def test_an_offer_expires_after_its_ttl(self, world: World) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        offer = await offered(world, session)

        world.clock.advance(CONFIG.offer_ttl_s - 1)
        await world.dispatch._expire_offers()
        assert drain(session) == []
        assert session.offer_id == offer.offer_id

        world.clock.advance(1)
        await world.dispatch._expire_offers()

        assert drain(session) == [OfferWithdrawnPush(offer.offer_id, "expired")]
        assert session.offer_id is None
        assert world.events.of_type(OfferClosed) == [
            OfferClosed(offer.offer_id, offer.task.task_id, "w1", OfferOutcome.EXPIRED)
        ]
        assert (await offered(world, session)).task.client_task_id == "c1"

    async def test_a_worker_who_leaves_gives_the_offer_back(self, world: World) -> None:
        await ingest(world, "c1")
        w1 = await connect(world, "w1")
        offer = await offered(world, w1)

        await world.dispatch.disconnect(w1)

        assert world.events.of_type(OfferClosed) == [
            OfferClosed(offer.offer_id, offer.task.task_id, "w1", OfferOutcome.WITHDRAWN)
        ]
        assert world.events.events[-1] == WorkerPresenceChanged("w1", "eu", False, START)
        w2 = await connect(world, "w2")
        assert (await offered(world, w2)).task.client_task_id == "c1"


class TestAccept:
    async def test_accept_leases_the_task(self, world: World) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        offer = await offered(world, session)

        await world.dispatch.accept(session, offer.offer_id)

        [push] = drain(session)
        assert isinstance(push, LeasePush)
        assert push.heartbeat_interval_s == CONFIG.heartbeat_interval_s
        lease = push.lease
        assert (lease.task, lease.worker_id, lease.region, lease.offer_id) == (
            offer.task,
            "w1",
            "eu",
            offer.offer_id,
        )
        assert world.events.of_type(TaskAssigned) == [TaskAssigned(lease)]
        assert (session.offer_id, session.lease_id) == (None, lease.lease_id)

    async def test_someone_elses_offer_cannot_be_accepted(self, world: World) -> None:
        await ingest(world, "c1")
        w1 = await connect(world, "w1")
        w2 = await connect(world, "w2")
        offer = await offered(world, w1)
        drain(w2)
        published = list(world.events.events)

        with pytest.raises(NotFoundError):
            await world.dispatch.accept(w2, offer.offer_id)

        assert world.events.events == published
        assert (w1.offer_id, w2.offer_id, w2.lease_id) == (offer.offer_id, None, None)
        assert drain(w1) == drain(w2) == []
        status = await world.store.status(offer.task.platform_id, offer.task.task_id)
        assert status is not None
        assert (status.state, status.worker_id) == (TaskState.OFFERED, "w1")

    async def test_a_declined_offer_cannot_be_accepted(self, world: World) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        offer = await offered(world, session)
        await world.dispatch.decline(session, offer.offer_id)
        published = list(world.events.events)

        with pytest.raises(NotFoundError):
            await world.dispatch.accept(session, offer.offer_id)

        assert world.events.events == published
        assert await world.store.lease_of("w1") is None

    async def test_an_expired_offer_cannot_be_accepted_and_the_worker_stays_served(
        self, world: World
    ) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        offer = await offered(world, session)
        world.clock.advance(CONFIG.offer_ttl_s)  # expired, but the timer has not run yet
        published = list(world.events.events)

        with pytest.raises(ConflictError):
            await world.dispatch.accept(session, offer.offer_id)

        assert world.events.events == published
        assert session.offer_id == offer.offer_id
        assert await world.store.lease_of("w1") is None
        # The timer still finds the offer and hands the worker a fresh one.
        await world.dispatch._expire_offers()
        assert drain(session) == [OfferWithdrawnPush(offer.offer_id, "expired")]
        assert (await offered(world, session)).task.client_task_id == "c1"

    async def test_an_accept_after_the_offer_was_cancelled_is_refused(self, world: World) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        offer = await offered(world, session)
        await world.platform.cancel_task(offer.task.platform_id, offer.task.task_id, "oops")

        with pytest.raises(NotFoundError):
            await world.dispatch.accept(session, offer.offer_id)

        assert session.idle


class TestLeaseWork:
    async def test_submit_publishes_one_submission_with_a_deterministic_id(
        self, world: World
    ) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        lease_id = await leased(world, session)
        world.clock.advance(42)

        await world.dispatch.submit(session, lease_id, b"3 cars")

        [received] = world.events.of_type(SubmissionReceived)
        assert received.submission_id == submission_id_for(lease_id)
        assert (received.lease.lease_id, received.answer, received.worked_seconds) == (
            lease_id,
            b"3 cars",
            42,
        )
        assert received.submitted_at == START + timedelta(seconds=42)
        assert drain(session) == [SubmitAcceptedPush(lease_id, submission_id_for(lease_id))]
        assert session.idle

        with pytest.raises(AlreadyDoneError):
            await world.dispatch.submit(session, lease_id, b"3 cars")
        assert len(world.events.of_type(SubmissionReceived)) == 1

    async def test_the_connections_own_lease_is_not_read_back_to_submit_it(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        lease_id = await leased(world, session)
        reads: list[str] = []
        get_lease = world.store.get_lease

        async def counted(lease_id: str) -> Lease | None:
            reads.append(lease_id)
            return await get_lease(lease_id)

        # Dispatch's reads only: the fake store reads its own leases as it completes one.
        store = SimpleNamespace(complete=world.store.complete, get_lease=counted)
        monkeypatch.setattr(world.dispatch, "_store", store)

        await world.dispatch.submit(session, lease_id, b"3 cars")

        assert reads == []
        assert len(world.events.of_type(SubmissionReceived)) == 1

    @pytest.mark.parametrize("ended", ["released", "submitted"])
    async def test_a_lease_ended_behind_the_connections_back_is_refused_as_done(
        self, world: World, ended: str
    ) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        lease_id = await leased(world, session)
        if ended == "released":  # by another replica, say, before this one read the log
            await world.store.release(lease_id, "grace period ended", world.clock.now())
        else:
            sid = submission_id_for(lease_id)
            await world.store.complete(lease_id, "w1", b"x", 1, sid, world.clock.now())
        submitted = len(world.events.of_type(SubmissionReceived))

        with pytest.raises(AlreadyDoneError, match="already submitted or released"):
            await world.dispatch.submit(session, lease_id, b"3 cars")

        assert len(world.events.of_type(SubmissionReceived)) == submitted

    async def test_someone_elses_lease_cannot_be_submitted(self, world: World) -> None:
        await ingest(world, "c1")
        w1 = await connect(world, "w1")
        w2 = await connect(world, "w2")
        lease_id = await leased(world, w1)

        with pytest.raises(NotFoundError):
            await world.dispatch.submit(w2, lease_id, b"stolen")
        with pytest.raises(NotFoundError):
            await world.dispatch.heartbeat(w2, lease_id, b"stolen")

        assert world.events.of_type(SubmissionReceived) == []

    async def test_an_oversized_answer_or_draft_is_refused(self, world: World) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        lease_id = await leased(world, session)
        too_big = b"x" * (CONFIG.max_answer_bytes + 1)

        with pytest.raises(InvalidInputError) as submitted:
            await world.dispatch.submit(session, lease_id, too_big)
        with pytest.raises(InvalidInputError) as drafted:
            await world.dispatch.heartbeat(session, lease_id, too_big)

        assert [v.field for v in submitted.value.violations] == ["submit.answer"]
        assert [v.field for v in drafted.value.violations] == ["heartbeat.draft"]
        assert world.events.of_type(SubmissionReceived) == []


class TestGrace:
    async def test_a_worker_who_returns_within_grace_resumes_the_lease(self, world: World) -> None:
        await ingest(world, "c1", "c2")
        session = await connect(world, "w1")
        lease_id = await leased(world, session)
        world.clock.advance(30)
        await world.dispatch.heartbeat(session, lease_id, b"half the boxes")

        await world.dispatch.disconnect(session)
        world.clock.advance(CONFIG.grace_s - 1)
        back = await world.dispatch.connect(hello("w1"))

        welcome, push = drain(back)
        assert isinstance(welcome, Welcome)
        assert welcome.resumed is not None
        assert (welcome.resumed.lease_id, welcome.resumed.draft) == (lease_id, b"half the boxes")
        assert push == LeasePush(welcome.resumed, CONFIG.heartbeat_interval_s)
        world.clock.advance(10 * CONFIG.grace_s)
        await world.dispatch._release_overdue_leases()
        assert world.events.of_type(LeaseReleased) == []
        await world.dispatch._dispatch_round()
        assert offers_in(drain(back)) == []  # busy with the resumed lease
        await world.dispatch.submit(back, lease_id, b"all the boxes")
        assert len(world.events.of_type(SubmissionReceived)) == 1

    async def test_after_grace_the_lease_is_released_with_the_time_worked(
        self, world: World
    ) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        lease_id = await leased(world, session)
        world.clock.advance(75)
        await world.dispatch.disconnect(session)

        world.clock.advance(CONFIG.grace_s - 1)
        await world.dispatch._release_overdue_leases()
        assert world.events.of_type(LeaseReleased) == []
        world.clock.advance(1)
        await world.dispatch._release_overdue_leases()

        [released] = world.events.of_type(LeaseReleased)
        assert (released.lease.lease_id, released.worked_seconds) == (lease_id, 75)
        assert released.reason == "grace period ended"
        other = await connect(world, "w2")
        assert (await offered(world, other)).task.client_task_id == "c1"
        back = await world.dispatch.connect(hello("w1"))
        assert drain(back) == [Welcome("w1", None)]

    async def test_a_worker_back_just_as_grace_runs_out_keeps_the_lease(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        lease_id = await leased(world, session)
        await world.dispatch.heartbeat(session, lease_id, b"my draft")
        await world.dispatch.disconnect(session)
        world.clock.advance(CONFIG.grace_s)
        # The timer lists the lease as overdue, then the worker is back before it releases it.
        overdue = await world.store.overdue_leases(world.clock.now(), 200)
        assert overdue == [lease_id]
        back = await world.dispatch.connect(hello("w1"))
        welcome, _ = drain(back)
        assert isinstance(welcome, Welcome)
        assert welcome.resumed is not None

        async def listed_before(now: object, limit: int) -> list[str]:
            return overdue

        monkeypatch.setattr(world.store, "overdue_leases", listed_before)
        await world.dispatch._release_overdue_leases()

        assert world.events.of_type(LeaseReleased) == []
        assert drain(back) == []
        await world.dispatch.heartbeat(back, lease_id, b"more")
        await world.dispatch.submit(back, lease_id, b"all the boxes")
        assert len(world.events.of_type(SubmissionReceived)) == 1


class TestDeadlines:
    async def test_a_task_still_waiting_when_its_deadline_passes_expires(
        self, world: World
    ) -> None:
        task = replace(make_task("c1"), deadline=START + timedelta(seconds=120))  # effort 90 s
        await world.dispatch.ingest(task)
        expired = metrics.TASKS_EXPIRED._value.get()
        missed = metrics.DEADLINE_MISSES.labels("true")._value.get()
        world.clock.advance(119)
        await world.dispatch._expire_overdue_tasks()
        assert world.events.of_type(TaskCancelled) == []

        world.clock.advance(1)
        await world.dispatch._expire_overdue_tasks()

        assert world.events.of_type(TaskCancelled) == [
            TaskCancelled(task.task_id, PLATFORM, "deadline passed")
        ]
        status = await world.platform.get_task(PLATFORM, task.task_id)
        assert status.state is TaskState.EXPIRED
        session = await connect(world, "w1")
        await world.dispatch._dispatch_round()
        assert offers_in(drain(session)) == []
        assert metrics.TASKS_EXPIRED._value.get() == expired + 1
        assert metrics.DEADLINE_MISSES.labels("true")._value.get() == missed + 1

    async def test_a_task_leased_past_its_deadline_expires_only_once_back_in_the_queue(
        self, world: World
    ) -> None:
        task = replace(make_task("c1"), deadline=START + timedelta(seconds=60))
        await world.dispatch.ingest(task)
        session = await connect(world, "w1")
        await leased(world, session)
        world.clock.advance(61)

        await world.dispatch._expire_overdue_tasks()
        assert world.events.of_type(TaskCancelled) == []
        await world.dispatch.disconnect(session)
        world.clock.advance(CONFIG.grace_s)
        await world.dispatch._release_overdue_leases()
        assert len(world.events.of_type(LeaseReleased)) == 1
        await world.dispatch._expire_overdue_tasks()

        assert [e.task_id for e in world.events.of_type(TaskCancelled)] == [task.task_id]
        other = await connect(world, "w2")
        await world.dispatch._dispatch_round()
        assert offers_in(drain(other)) == []


class TestConnections:
    async def test_connect_welcomes_and_announces_the_worker(self, world: World) -> None:
        session = await world.dispatch.connect(hello("w1"))

        assert drain(session) == [Welcome("w1", None)]
        assert world.events.events == [WorkerPresenceChanged("w1", "eu", True, START)]
        assert world.dispatch.connected == 1

    async def test_a_second_connection_closes_the_first_and_withdraws_its_offer(
        self, world: World
    ) -> None:
        await ingest(world, "c1")
        first = await connect(world, "w1")
        offer = await offered(world, first)

        second = await world.dispatch.connect(hello("w1"))

        assert drain(first) == [
            Closed("connected again from elsewhere"),
            OfferWithdrawnPush(offer.offer_id, "connected again from elsewhere"),
        ]
        assert not first.open
        assert world.events.of_type(OfferClosed) == [
            OfferClosed(offer.offer_id, offer.task.task_id, "w1", OfferOutcome.WITHDRAWN)
        ]
        assert drain(second) == [Welcome("w1", None)]
        assert world.dispatch.session("w1") is second
        # The old stream ending later must not disturb the new one.
        await world.dispatch.disconnect(first)
        assert world.dispatch.session("w1") is second
        assert WorkerPresenceChanged("w1", "eu", False, START) not in world.events.events
        assert (await offered(world, second)).task.client_task_id == "c1"

    async def test_a_second_connection_takes_over_the_lease(self, world: World) -> None:
        await ingest(world, "c1")
        first = await connect(world, "w1")
        lease_id = await leased(world, first)

        second = await world.dispatch.connect(hello("w1"))
        await world.dispatch.disconnect(first)

        welcome, _ = drain(second)
        assert isinstance(welcome, Welcome)
        assert welcome.resumed is not None
        assert welcome.resumed.lease_id == lease_id
        assert await world.store.overdue_leases(START + timedelta(days=365), 10) == []

    @pytest.mark.parametrize("reply_delays_s", [(0.0, 0.0), (0.05, 0.0)])
    async def test_two_connections_at_once_leave_one_current_and_close_the_other(
        self, world: World, monkeypatch: pytest.MonkeyPatch, reply_delays_s: tuple[float, float]
    ) -> None:
        # Two hellos of one worker within one store round trip, the replies in order or not.
        await ingest(world, "c1")
        delays = iter(reply_delays_s)
        connect_worker = world.store.connect_worker

        async def round_trip(hello: Hello, now: datetime) -> Connection:
            connection = await connect_worker(hello, now)
            await asyncio.sleep(next(delays))
            return connection

        monkeypatch.setattr(world.store, "connect_worker", round_trip)
        first, second = await asyncio.gather(
            world.dispatch.connect(hello("w1")), world.dispatch.connect(hello("w1"))
        )
        monkeypatch.setattr(world.store, "connect_worker", connect_worker)

        current = world.dispatch.session("w1")
        assert current is not None
        replaced = first if current is second else second
        assert current.seq == world.store.state.conns["w1"].seq
        assert Closed("connected again from elsewhere") in drain(replaced)
        assert not replaced.open
        assert (await offered(world, current)).task.client_task_id == "c1"
        await world.dispatch.disconnect(replaced)
        await world.dispatch.disconnect(current)
        assert "w1" not in world.store.state.conns

    async def test_a_connect_during_a_disconnect_of_the_same_worker_is_not_undone_by_it(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await ingest(world, "c1")
        first = await connect(world, "w1")
        disconnect_worker = world.store.disconnect_worker
        ended = asyncio.Event()

        async def round_trip(*args: Any) -> Disconnection:
            gone = await disconnect_worker(*args)
            ended.set()
            await asyncio.sleep(0.01)  # the reply is still on its way
            return gone

        monkeypatch.setattr(world.store, "disconnect_worker", round_trip)
        disconnecting = asyncio.create_task(world.dispatch.disconnect(first))
        await ended.wait()
        second = await world.dispatch.connect(hello("w1"))  # back at once
        await disconnecting

        assert world.dispatch.session("w1") is second
        assert (await offered(world, second)).task.client_task_id == "c1"

    async def test_a_connect_abandoned_after_the_store_made_it_is_ended(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The client hangs up while its hello is with the store: the store connected them (and
        # ended their lease's grace), the reply is still on its way.
        lease_id = await in_grace(world)
        made = store_replies_late(world, monkeypatch)
        connecting = asyncio.create_task(world.dispatch.connect(hello("w1")))
        await made.wait()
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting

        await assert_gone_and_grace_runs(world, lease_id)

    async def test_a_connect_abandoned_before_the_store_made_it_leaves_nothing(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        exclusions_of = world.dispatch.exclusions.of
        asked = asyncio.Event()

        async def slow(worker_id: str) -> frozenset[str]:
            asked.set()
            await asyncio.sleep(0.01)
            return await exclusions_of(worker_id)

        monkeypatch.setattr(world.dispatch.exclusions, "of", slow)
        connecting = asyncio.create_task(world.dispatch.connect(hello("w1")))
        await asked.wait()
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting

        assert world.dispatch.session("w1") is None
        assert "w1" not in world.store.state.conns
        assert world.dispatch.connected == 0

    async def test_reconnecting_workers_are_queued_once(self, world: World) -> None:
        for _ in range(5):
            session = await connect(world, "w1")
            await world.dispatch._dispatch_round()
        await world.dispatch.disconnect(session)
        await connect(world, "w1")

        assert list(world.policy._idle) == ["w1"]


class TestStoreFailures:
    """The store fails mid-call (Redis restarting), having applied the change or not: no task
    is left waiting for ever. A task delivered again after its first ingest was applied but
    the answer lost is still learnt; an offer not known to be made is decided again: the
    policy is rebuilt from the store."""

    @pytest.mark.parametrize("many", [False, True], ids=["one", "batch"])
    async def test_a_task_queued_by_a_delivery_whose_answer_was_lost_is_offered(
        self, world: World, monkeypatch: pytest.MonkeyPatch, many: bool
    ) -> None:
        task = make_task("c1")
        name = "ingest_many" if many else "ingest"
        applied = getattr(world.store, name)

        async def applied_then_lost(*args: object) -> object:
            await applied(*args)
            raise ConnectionError("Connection closed by server.")

        deliver = (
            (lambda: world.dispatch.ingest_many([task]))
            if many
            else (lambda: world.dispatch.ingest(task))
        )
        monkeypatch.setattr(world.store, name, applied_then_lost)
        with pytest.raises(ConnectionError):
            await deliver()
        monkeypatch.setattr(world.store, name, applied)
        await deliver()  # the consumer's retry: the task is known already
        await world.dispatch.ownership.rebuild_if_wanted()  # the next timer round

        session = await connect(world, "w1")
        offer = await offered(world, session)
        assert offer.task.task_id == task.task_id

    async def test_a_redelivered_task_already_offered_is_not_offered_again(
        self, world: World
    ) -> None:
        await ingest(world, "c1")
        first = await connect(world, "w1")
        await offered(world, first)
        second = await connect(world, "w2")

        await ingest(world, "c1")
        await world.dispatch.ingest_many([make_task("c1")])
        await world.dispatch._dispatch_round()

        assert offers_in(drain(second)) == []

    async def test_an_offer_the_store_could_not_make_is_decided_again(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")
        make = world.store.offer_task

        async def unreachable(*args: object) -> object:
            raise ConnectionError("Connection closed by server.")

        monkeypatch.setattr(world.store, "offer_task", unreachable)
        with pytest.raises(ConnectionError):
            await world.dispatch._dispatch_round()
        monkeypatch.setattr(world.store, "offer_task", make)
        await world.dispatch.ownership.rebuild_if_wanted()  # the next timer round

        offer = await offered(world, session)
        assert offer.task.client_task_id == "c1"


class TestWelfareSeries:
    """The series operators alert on count what really happened."""

    async def test_an_offer_outside_the_workers_window_is_held_back_and_counted(
        self, world: World
    ) -> None:
        await ingest(world, "c1")
        session = await connect(world, "w1")  # no windows: 07:00-22:00 local, UTC here
        offer = await offered(world, session)
        await world.dispatch.decline(session, offer.offer_id)
        before = metrics.PUSHES_OUTSIDE_WINDOW._value.get()

        late = START.replace(hour=23)
        await world.dispatch.push_offer(offer, session.seq, late)

        assert offers_in(drain(session)) == []
        assert metrics.PUSHES_OUTSIDE_WINDOW._value.get() == before + 1

    async def test_work_and_eligible_time_are_counted_by_region(self, world: World) -> None:
        work = metrics.WORK_SECONDS.labels("eu")
        eligible = metrics.ELIGIBLE_WORKER_SECONDS.labels("eu")
        work_before, eligible_before = work._value.get(), eligible._value.get()
        await ingest(world, "c1")
        session = await connect(world, "w1")
        await leased(world, session)
        world.clock.advance(60)
        await world.dispatch._sample_gauges()

        assert work._value.get() - work_before == make_task("c1").task_type.effort_seconds
        assert eligible._value.get() - eligible_before == 60

    async def test_a_submission_after_a_feasible_deadline_is_a_miss(self, world: World) -> None:
        task = replace(make_task("c1"), deadline=START + timedelta(hours=1))
        await world.dispatch.ingest(task)
        session = await connect(world, "w1")
        lease_id = await leased(world, session)
        missed = metrics.DEADLINE_MISSES.labels("true")
        before = missed._value.get()

        world.clock.advance(2 * 3600)
        await world.dispatch.submit(session, lease_id, b"late")

        assert missed._value.get() == before + 1

    async def test_the_queue_depth_is_the_tasks_waiting(self, world: World) -> None:
        await ingest(world, "c1", "c2", "c3")
        session = await connect(world, "w1")
        await offered(world, session)
        world.clock.advance(60)

        await world.dispatch._sample_gauges()

        assert metrics.QUEUED_TASKS._value.get() == 2
