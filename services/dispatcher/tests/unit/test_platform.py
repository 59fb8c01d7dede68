"""Platform operations on fakes: whole batches accepted or refused, repeats harmless."""

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from dispatcher_world import OTHER_PLATFORM, PLATFORM, PURPOSE, START, World, drain, hello

from dispatcher.adapters.memory import PublishFailedError
from dispatcher.domain.errors import (
    BacklogFullError,
    BelowPayFloorError,
    ConflictError,
    EscrowUnavailableError,
    InsufficientEscrowError,
    InvalidInputError,
    NotFoundError,
    SubmissionsUnavailableError,
)
from dispatcher.domain.events import OfferClosed, OfferOutcome, TaskCancelled, TaskSubmitted
from dispatcher.domain.model import NewTask, TaskState, TaskType, task_id_for
from dispatcher.domain.validation import Limits, fingerprint
from dispatcher.service_layer.platform import BacklogBound, SubmitTasks
from dispatcher.service_layer.ports import Accepted, ClientTaskRecord, IdState, TaskOutcome
from dispatcher.service_layer.sessions import OfferPush, OfferWithdrawnPush

BBOX = TaskType("bbox", PURPOSE, 400_000, 90, ("vision",))


async def define(world: World, task_type: TaskType = BBOX) -> None:
    await world.platform.define_task_type(PLATFORM, task_type)


def new(
    client_id: str,
    payload: bytes = b"img",
    task_type: str = "bbox",
    deadline: datetime | None = None,
) -> NewTask:
    return NewTask(client_id, task_type, payload, deadline)


async def submit(world: World, *tasks: NewTask, platform: str = PLATFORM) -> list[tuple[str, bool]]:
    done = await world.platform.submit_tasks(SubmitTasks(platform, list(tasks)))
    return [(s.client_task_id, s.duplicate) for s in done]


def fields_of(error: pytest.ExceptionInfo[InvalidInputError]) -> list[str]:
    return [v.field for v in error.value.violations]


class TestDefineTaskType:
    async def test_a_valid_task_type_is_stored_for_that_platform(self, world: World) -> None:
        await define(world)

        assert await world.task_types.get_many(PLATFORM, ["bbox"]) == {"bbox": BBOX}
        assert await world.task_types.get_many(OTHER_PLATFORM, ["bbox"]) == {}

    @pytest.mark.parametrize("purpose", ["", "   ", "for training", "x" * 19 + "   "])
    async def test_a_missing_or_vague_purpose_is_refused(self, world: World, purpose: str) -> None:
        with pytest.raises(InvalidInputError) as error:
            await define(world, TaskType("bbox", purpose, 400_000, 90))

        assert fields_of(error) == ["task_type.purpose"]
        assert await world.task_types.get_many(PLATFORM, ["bbox"]) == {}

    @pytest.mark.parametrize("effort", [-1, 0, Limits().max_effort_seconds + 1, 10**9])
    async def test_negative_or_absurd_effort_is_refused(self, world: World, effort: int) -> None:
        with pytest.raises(InvalidInputError) as error:
            await define(world, TaskType("bbox", PURPOSE, 400_000, effort))

        assert fields_of(error) == ["task_type.effort_seconds"]

    async def test_a_price_below_the_floor_at_its_effort_is_refused_with_the_minimum(
        self, world: World
    ) -> None:
        # $12/h for 10 minutes is $2.00; a cent less cannot pay the floor.
        with pytest.raises(BelowPayFloorError) as error:
            await define(world, TaskType("bbox", PURPOSE, 1_990_000, 600))

        assert error.value.minimum_price_micros == 2_000_000
        assert await world.task_types.get_many(PLATFORM, ["bbox"]) == {}

    async def test_a_price_exactly_at_the_floor_is_accepted(self, world: World) -> None:
        at_floor = TaskType("bbox", PURPOSE, 2_000_000, 600)

        await define(world, at_floor)

        assert await world.task_types.get_many(PLATFORM, ["bbox"]) == {"bbox": at_floor}

    async def test_a_redefinition_below_the_floor_keeps_the_old_price(self, world: World) -> None:
        await define(world)

        with pytest.raises(BelowPayFloorError):
            await define(world, TaskType("bbox", PURPOSE, 400_000, 3600))

        assert await world.task_types.get_many(PLATFORM, ["bbox"]) == {"bbox": BBOX}


class TestSubmitTasks:
    async def test_accepted_tasks_are_published_and_remembered(self, world: World) -> None:
        await define(world)

        result = await submit(world, new("c1"), new("c2"))

        assert result == [("c1", False), ("c2", False)]
        published = world.events.of_type(TaskSubmitted)
        assert [e.task.client_task_id for e in published] == ["c1", "c2"]
        task = published[0].task
        assert task.task_id == task_id_for(PLATFORM, "c1")
        assert (task.task_type, task.pool, task.submitted_at) == (BBOX, "lab-a/bbox", START)
        status = await world.platform.get_task(PLATFORM, task.task_id)
        assert status.state is TaskState.QUEUED

    async def test_the_whole_batch_is_refused_with_one_violation_per_problem(
        self, world: World
    ) -> None:
        await define(world)
        await submit(world, new("taken", b"original"))
        published_before = list(world.events.events)

        with pytest.raises(InvalidInputError) as error:
            await submit(
                world,
                new("fine"),
                new("c-unknown", task_type="nope"),
                new("c-late", deadline=START - timedelta(minutes=1)),
                new("c-big", b"x" * (Limits().max_payload_bytes + 1)),
                new("taken", b"changed"),
                new("fine"),
            )

        assert sorted(fields_of(error)) == sorted(
            [
                "tasks[1].task_type",
                "tasks[2].deadline",
                "tasks[3].payload",
                "tasks[4].client_task_id",
                "tasks[5].client_task_id",
            ]
        )
        problems = {v.field: v.problem for v in error.value.violations}
        assert "different content" in problems["tasks[4].client_task_id"]
        assert "repeated" in problems["tasks[5].client_task_id"]
        assert world.events.events == published_before
        assert await world.client_tasks.recorded(PLATFORM, ["fine", "c-late"]) == {}

    async def test_an_identical_resubmission_is_a_duplicate_and_publishes_nothing(
        self, world: World
    ) -> None:
        await define(world)
        deadline = START + timedelta(days=1)
        [first] = await world.platform.submit_tasks(
            SubmitTasks(PLATFORM, [new("c1", deadline=deadline)])
        )
        published = len(world.events.events)

        again = await world.platform.submit_tasks(
            SubmitTasks(PLATFORM, [new("c1", deadline=deadline), new("c2")])
        )

        assert [(s.client_task_id, s.task_id, s.duplicate) for s in again] == [
            ("c1", first.task_id, True),
            ("c2", task_id_for(PLATFORM, "c2"), False),
        ]
        assert [e.task.client_task_id for e in world.events.of_type(TaskSubmitted)] == [
            "c1",
            "c2",
        ]
        assert len(world.events.events) == published + 1

    async def test_client_ids_belong_to_their_platform(self, world: World) -> None:
        await define(world)
        await world.platform.define_task_type(OTHER_PLATFORM, BBOX)
        await submit(world, new("c1", b"a"))

        assert await submit(world, new("c1", b"b"), platform=OTHER_PLATFORM) == [("c1", False)]

    async def test_a_publish_failure_leaves_the_ids_bound_so_only_a_retry_works(
        self, world: World
    ) -> None:
        await define(world)
        world.events.fail_after = 1  # the first task reaches Kafka, the second does not

        with pytest.raises(PublishFailedError):
            await submit(world, new("c1"), new("c2"))

        # c1 may be on its way: c1 and c2 are bound to this content, not yet published.
        recorded = await world.client_tasks.recorded(PLATFORM, ["c1", "c2"])
        assert {c: r.state for c, r in recorded.items()} == {
            "c1": IdState.PUBLISHING,
            "c2": IdState.PUBLISHING,
        }
        with pytest.raises(NotFoundError):
            await world.platform.get_task(PLATFORM, task_id_for(PLATFORM, "c1"))
        world.events.fail_after = None
        with pytest.raises(InvalidInputError) as other:
            await submit(world, new("c1", b"other content"))
        assert fields_of(other) == ["tasks[0].client_task_id"]

        assert await submit(world, new("c1"), new("c2")) == [("c1", False), ("c2", False)]
        # c1 went out twice under one task id; ingest collapses the copies.
        c1 = [e.task for e in world.events.of_type(TaskSubmitted) if e.task.client_task_id == "c1"]
        assert len(c1) == 2
        assert c1[0].task_id == c1[1].task_id
        assert await world.store.ingest(c1[0], START)
        assert not await world.store.ingest(c1[1], START)
        assert await submit(world, new("c1")) == [("c1", True)]


class TestClientTaskIdBinding:
    """An id is bound to its content just before its task is published: it never names two
    contents, whatever fails or races, and is free again if nothing was published."""

    async def test_a_record_failing_after_publishing_keeps_the_ids_to_their_content(
        self, world: World
    ) -> None:
        await define(world)
        world.client_tasks.failing = {"mark_published"}

        with pytest.raises(SubmissionsUnavailableError):
            await submit(world, new("c1"))

        assert len(world.events.of_type(TaskSubmitted)) == 1
        with pytest.raises(InvalidInputError):
            await submit(world, new("c1", b"other content"))
        world.client_tasks.failing = set()
        assert await submit(world, new("c1")) == [("c1", False)]
        assert await submit(world, new("c1")) == [("c1", True)]
        with pytest.raises(InvalidInputError):
            await submit(world, new("c1", b"other content"))

    async def test_of_two_calls_racing_with_other_content_the_second_to_bind_stops(
        self, world: World
    ) -> None:
        await define(world)
        rival_print = fingerprint(new("c1", b"rival"))
        rival = Accepted("c1", task_id_for(PLATFORM, "c1"), rival_print, "bbox")
        read = world.client_tasks.recorded

        async def rival_binds_after_our_read(
            platform_id: str, ids: Sequence[str]
        ) -> dict[str, ClientTaskRecord]:
            found = await read(platform_id, ids)
            assert await world.client_tasks.start_publishing(PLATFORM, [rival]) == {}
            return found

        world.client_tasks.recorded = rival_binds_after_our_read  # type: ignore[method-assign]

        with pytest.raises(InvalidInputError) as lost:
            await submit(world, new("c0"), new("c1"))

        assert fields_of(lost) == ["tasks[1].client_task_id"]
        assert world.events.of_type(TaskSubmitted) == []
        world.client_tasks.recorded = read  # type: ignore[method-assign]
        # All or none: c0 is not bound; c1 is the rival's.
        assert await world.client_tasks.recorded(PLATFORM, ["c0", "c1"]) == {
            "c1": ClientTaskRecord(rival.fingerprint, IdState.PUBLISHING)
        }

    async def test_an_id_left_publishing_by_a_call_that_died_is_published_by_its_content(
        self, world: World
    ) -> None:
        await define(world)
        task = new("c1")
        left = Accepted("c1", task_id_for(PLATFORM, "c1"), fingerprint(task), "bbox")
        await world.client_tasks.start_publishing(PLATFORM, [left])

        with pytest.raises(InvalidInputError):
            await submit(world, new("c1", b"other content"))
        assert await submit(world, task) == [("c1", False)]

        assert [e.task.client_task_id for e in world.events.of_type(TaskSubmitted)] == ["c1"]
        recorded = await world.client_tasks.recorded(PLATFORM, ["c1"])
        assert recorded["c1"].state is IdState.PUBLISHED

    async def test_ids_refused_by_the_escrow_are_free_for_other_content(self, world: World) -> None:
        await define(world)
        world.escrow.funds[PLATFORM] = 0
        with pytest.raises(InsufficientEscrowError):
            await submit(world, new("c1"))

        world.escrow.funds[PLATFORM] = 400_000
        assert await submit(world, new("c1", b"fixed content")) == [("c1", False)]

    async def test_binding_failing_publishes_nothing(self, world: World) -> None:
        await define(world)
        world.client_tasks.failing = {"start_publishing"}

        with pytest.raises(SubmissionsUnavailableError):
            await submit(world, new("c1"))

        assert world.events.of_type(TaskSubmitted) == []
        assert await world.client_tasks.recorded(PLATFORM, ["c1"]) == {}


class TestRepeatsAfterTheDeadline:
    """A platform retrying what was accepted gets the same task back, whatever the time."""

    async def test_an_accepted_task_sent_again_after_its_deadline_is_a_duplicate(
        self, world: World
    ) -> None:
        await define(world)
        task = new("c1", deadline=START + timedelta(hours=1))
        assert await submit(world, task) == [("c1", False)]
        world.clock.advance(2 * 3600)

        assert await submit(world, task) == [("c1", True)]
        assert len(world.events.of_type(TaskSubmitted)) == 1

    async def test_a_task_left_publishing_is_published_again_after_its_deadline(
        self, world: World
    ) -> None:
        await define(world)
        task = new("c1", deadline=START + timedelta(hours=1))
        world.client_tasks.failing = {"mark_published"}
        with pytest.raises(SubmissionsUnavailableError):
            await submit(world, task)
        world.client_tasks.failing = set()
        world.clock.advance(2 * 3600)

        # Published again under its id; the dispatcher expires it as the first copy.
        assert await submit(world, task) == [("c1", False)]
        assert len(world.events.of_type(TaskSubmitted)) == 2

    async def test_a_task_left_publishing_and_since_done_is_not_run_again(
        self, world: World
    ) -> None:
        await define(world)
        world.client_tasks.failing = {"mark_published"}
        with pytest.raises(SubmissionsUnavailableError):
            await submit(world, new("c1"))
        world.client_tasks.failing = set()
        # Out nevertheless: worked, submitted, and recorded so (Redis lets it go an hour later).
        task_id = task_id_for(PLATFORM, "c1")
        await world.platform.tasks_done([TaskOutcome(task_id, TaskState.SUBMITTED, "w-1")])

        assert await submit(world, new("c1")) == [("c1", True)]
        assert len(world.events.of_type(TaskSubmitted)) == 1

    async def test_new_tasks_and_other_content_are_still_held_to_the_clock(
        self, world: World
    ) -> None:
        await define(world)
        await submit(world, new("c1", deadline=START + timedelta(hours=1)))
        world.clock.advance(2 * 3600)

        with pytest.raises(InvalidInputError) as error:
            await submit(
                world,
                new("c1", b"other", deadline=START + timedelta(hours=1)),
                new("c2", deadline=START + timedelta(hours=1)),
            )

        assert sorted(fields_of(error)) == [
            "tasks[0].client_task_id",
            "tasks[0].deadline",
            "tasks[1].deadline",
        ]


class TestBackpressure:
    async def test_a_batch_over_the_bound_is_refused_whole_with_a_retry_hint(self) -> None:
        world = World(backlog=BacklogBound(max_waiting=3, retry_after_s=7.0))
        await define(world)
        await world.platform.define_task_type(OTHER_PLATFORM, BBOX)
        await submit(world, new("c1"), new("c2"))
        published = len(world.events.events)

        with pytest.raises(BacklogFullError) as full:
            await submit(world, new("c3"), new("c4"))

        assert (full.value.waiting, full.value.bound, full.value.retry_after_s) == (2, 3, 7.0)
        assert len(world.events.events) == published
        assert await world.client_tasks.recorded(PLATFORM, ["c3", "c4"]) == {}
        assert await submit(world, new("c1"), new("c3")) == [("c1", True), ("c3", False)]
        assert await submit(world, new("c1"), new("c2"), new("c3"), platform=OTHER_PLATFORM)

    async def test_a_batch_that_could_never_fit_is_invalid(self) -> None:
        world = World(backlog=BacklogBound(max_waiting=2))
        await define(world)
        with pytest.raises(InvalidInputError) as error:
            await submit(world, new("c1"), new("c2"), new("c3"))
        assert fields_of(error) == ["tasks"]


class TestEscrow:
    async def test_tasks_the_escrow_cannot_fund_are_refused_whole_and_never_queued(
        self, world: World
    ) -> None:
        await define(world)
        world.escrow.funds[PLATFORM] = 500_000  # one task at 400,000, not two
        published = len(world.events.events)

        with pytest.raises(InsufficientEscrowError) as short:
            await submit(world, new("c1"), new("c2"))

        assert (short.value.available_micros, short.value.needed_micros) == (500_000, 800_000)
        assert len(world.events.events) == published
        assert await world.client_tasks.recorded(PLATFORM, ["c1", "c2"]) == {}
        assert world.escrow.holds == {}

    async def test_funded_tasks_hold_their_price_once_however_often_submitted(
        self, world: World
    ) -> None:
        await define(world)
        world.escrow.funds[PLATFORM] = 800_000
        assert await submit(world, new("c1"), new("c2")) == [("c1", False), ("c2", False)]
        # A retry of the same batch holds nothing more, so it fits in what is left (0).
        assert await submit(world, new("c1"), new("c2")) == [("c1", True), ("c2", True)]
        assert world.escrow.funds[PLATFORM] == 0
        assert sorted(world.escrow.holds) == sorted(
            [task_id_for(PLATFORM, "c1"), task_id_for(PLATFORM, "c2")]
        )

    async def test_an_unreachable_escrow_accepts_nothing(self, world: World) -> None:
        await define(world)
        world.escrow.unavailable = True
        with pytest.raises(EscrowUnavailableError):
            await submit(world, new("c1"))
        assert await world.client_tasks.recorded(PLATFORM, ["c1"]) == {}
        assert world.events.of_type(TaskSubmitted) == []


class TestGetAndCancel:
    async def test_unknown_and_foreign_tasks_are_not_found(self, world: World) -> None:
        await define(world)
        await submit(world, new("c1"))
        task_id = task_id_for(PLATFORM, "c1")

        with pytest.raises(NotFoundError):
            await world.platform.get_task(OTHER_PLATFORM, task_id)
        with pytest.raises(NotFoundError):
            await world.platform.cancel_task(OTHER_PLATFORM, task_id, "mine?")
        with pytest.raises(NotFoundError):
            await world.platform.get_task(PLATFORM, "unknown")

    async def test_cancel_a_queued_task(self, world: World) -> None:
        await define(world)
        await submit(world, new("c1"))
        task_id = task_id_for(PLATFORM, "c1")

        state = await world.platform.cancel_task(PLATFORM, task_id, "no longer needed")

        assert state is TaskState.CANCELLED
        assert world.events.of_type(TaskCancelled) == [
            TaskCancelled(task_id, PLATFORM, "no longer needed")
        ]
        assert world.events.of_type(OfferClosed) == []
        [published] = world.events.of_type(TaskSubmitted)
        await world.dispatch.ingest(published.task)
        session = await world.dispatch.connect(hello("w1", ("vision",)))
        await world.dispatch._dispatch_round()
        assert not any(isinstance(p, OfferPush) for p in drain(session))

    async def test_an_overlong_reason_is_refused_and_changes_nothing(self, world: World) -> None:
        await define(world)
        await submit(world, new("c1"))
        task_id = task_id_for(PLATFORM, "c1")

        with pytest.raises(InvalidInputError) as error:
            await world.platform.cancel_task(PLATFORM, task_id, "x" * 1001)

        assert fields_of(error) == ["reason"]
        assert world.events.of_type(TaskCancelled) == []
        assert (await world.platform.get_task(PLATFORM, task_id)).state is TaskState.QUEUED
        # At the bound it is a reason like any other.
        assert await world.platform.cancel_task(PLATFORM, task_id, "x" * 1000) is (
            TaskState.CANCELLED
        )

    async def test_cancel_an_offered_task_tells_the_worker(self, world: World) -> None:
        await define(world)
        await submit(world, new("c1"))
        [published] = world.events.of_type(TaskSubmitted)
        await world.dispatch.ingest(published.task)
        session = await world.dispatch.connect(hello("w1", ("vision",)))
        await world.dispatch._dispatch_round()
        [offer] = [p.offer for p in drain(session) if isinstance(p, OfferPush)]

        state = await world.platform.cancel_task(PLATFORM, offer.task.task_id, "oops")

        assert state is TaskState.CANCELLED
        assert world.events.of_type(OfferClosed) == [
            OfferClosed(offer.offer_id, offer.task.task_id, "w1", OfferOutcome.WITHDRAWN)
        ]
        assert len(world.events.of_type(TaskCancelled)) == 1
        assert drain(session) == [OfferWithdrawnPush(offer.offer_id, "cancelled by the platform")]
        assert session.offer_id is None
        assert session.idle

    async def test_a_leased_task_cannot_be_cancelled(self, world: World) -> None:
        await define(world)
        await submit(world, new("c1"))
        [published] = world.events.of_type(TaskSubmitted)
        await world.dispatch.ingest(published.task)
        session = await world.dispatch.connect(hello("w1", ("vision",)))
        await world.dispatch._dispatch_round()
        [offer] = [p.offer for p in drain(session) if isinstance(p, OfferPush)]
        await world.dispatch.accept(session, offer.offer_id)
        published_before = list(world.events.events)

        with pytest.raises(ConflictError):
            await world.platform.cancel_task(PLATFORM, offer.task.task_id, "too late")

        assert world.events.events == published_before
        status = await world.platform.get_task(PLATFORM, offer.task.task_id)
        assert (status.state, status.worker_id) == (TaskState.LEASED, "w1")
