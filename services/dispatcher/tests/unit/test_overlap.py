"""Tasks several workers answer, on fakes: every answer funded up front, further answers
queued when scoring asks for them and never offered to anyone who answered, and a
cancellation that stops further answers and frees their escrow."""

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from dispatcher_world import OTHER_PLATFORM, PLATFORM, PURPOSE, World, drain, hello, offers_in

from dispatcher.domain.errors import InsufficientEscrowError, InvalidInputError
from dispatcher.domain.events import TaskCancelled, TaskSubmitted
from dispatcher.domain.model import NewTask, Overlap, TaskState, TaskType, task_id_for
from dispatcher.entrypoints.consumers import AnswerRequests
from dispatcher.service_layer.platform import ASKED_AFTER_WITHDRAWAL, SubmitTasks, WantAnswer
from dispatcher.service_layer.sessions import WorkerSession
from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_runtime.answers import answer_task_id
from fairtask_runtime.envelope import PoisonMessageError

VOTE = TaskType("vote", PURPOSE, 100_000, 20, (), overlap=Overlap(2, 3, 0.9))
TASK = task_id_for(PLATFORM, "c1")
COPY_3 = answer_task_id(TASK, 3)


async def _submitted(
    world: World, *client_ids: str, gold: str = "", deadline: datetime | None = None
) -> None:
    await world.platform.define_task_type(PLATFORM, VOTE)
    tasks = [NewTask(c, "vote", b"is this a cat?", deadline, gold) for c in client_ids]
    await world.platform.submit_tasks(SubmitTasks(PLATFORM, tasks))


async def _ingest_published(world: World) -> None:
    for event in world.events.of_type(TaskSubmitted):
        await world.dispatch.ingest(event.task)


async def _answer(world: World, session: WorkerSession) -> str:
    """The worker takes the offer pushed to them and answers; the task id they answered."""
    await world.dispatch._dispatch_round()
    [push] = offers_in(drain(session))
    await world.dispatch.accept(session, push.offer.offer_id)
    assert session.lease_id is not None
    await world.dispatch.submit(session, session.lease_id, b"yes")
    drain(session)
    return push.offer.task.task_id


class TestDefine:
    @pytest.mark.parametrize(
        ("overlap", "field"),
        [
            (Overlap(0, 3, 0.9), "task_type.overlap.min_answers"),
            (Overlap(3, 2, 0.9), "task_type.overlap.max_answers"),
            (Overlap(1, 11, 0.9), "task_type.overlap.max_answers"),
            (Overlap(1, 3, 1.0), "task_type.overlap.confidence_target"),
            (Overlap(1, 3, 0.4), "task_type.overlap.confidence_target"),
            (Overlap(1, 3, float("nan")), "task_type.overlap.confidence_target"),
            (Overlap(1, 3, 0.9, answer_classes=1), "task_type.overlap.answer_classes"),
        ],
    )
    async def test_an_impossible_overlap_is_refused_and_nothing_stored(
        self, world: World, overlap: Overlap, field: str
    ) -> None:
        bad = TaskType("vote", PURPOSE, 100_000, 20, (), overlap=overlap)
        with pytest.raises(InvalidInputError) as refused:
            await world.platform.define_task_type(PLATFORM, bad)
        assert [v.field for v in refused.value.violations] == [field]
        assert await world.task_types.get_many(PLATFORM, ["vote"]) == {}


class TestEscrow:
    async def test_every_answer_a_task_may_need_is_held_before_it_is_accepted(
        self, world: World
    ) -> None:
        world.escrow.funds[PLATFORM] = 300_000
        await _submitted(world, "c1")
        assert world.escrow.holds == {
            answer_task_id(TASK, n): (PLATFORM, 100_000) for n in (1, 2, 3)
        }
        assert world.escrow.funds[PLATFORM] == 0

    async def test_a_platform_that_funds_one_answer_of_three_is_refused(self, world: World) -> None:
        world.escrow.funds[PLATFORM] = 299_999
        with pytest.raises(InsufficientEscrowError) as short:
            await _submitted(world, "c1")
        assert short.value.needed_micros == 300_000
        assert world.escrow.holds == {}

    async def test_gold_is_answered_once_so_one_price_is_held(self, world: World) -> None:
        await _submitted(world, "c1", gold="yes")
        assert list(world.escrow.holds) == [TASK]


class TestFurtherAnswers:
    async def test_a_further_answer_goes_to_another_worker_and_keeps_the_platform_task(
        self, world: World
    ) -> None:
        await _submitted(world, "c1")
        await _ingest_published(world)
        ana = await world.dispatch.connect(hello("ana"))
        assert await _answer(world, ana) == TASK

        asked = await world.platform.want_answer(WantAnswer(TASK, PLATFORM, 2, ["ana"]))

        assert asked
        copy = world.events.of_type(TaskSubmitted)[-1].task
        assert copy.task_id == answer_task_id(TASK, 2)
        assert (copy.answer_of, copy.answer_number, copy.answered_by) == (TASK, 2, ("ana",))
        assert (copy.client_task_id, copy.payload) == ("c1", b"is this a cat?")
        await world.dispatch.ingest(copy)
        await world.dispatch._dispatch_round()
        assert offers_in(drain(ana)) == []  # ana answered it: never offered again
        ben = await world.dispatch.connect(hello("ben"))
        assert await _answer(world, ben) == copy.task_id

    async def test_asking_twice_queues_the_copy_once(self, world: World) -> None:
        await _submitted(world, "c1")
        await _ingest_published(world)
        for _ in range(2):
            assert await world.platform.want_answer(WantAnswer(TASK, PLATFORM, 2, ["ana"]))
        copies = [e.task for e in world.events.of_type(TaskSubmitted) if e.task.answer_of]
        assert len({c.task_id for c in copies}) == 1
        assert [await world.dispatch.ingest(c) for c in copies] == [None, None]
        status = await world.platform.get_task(PLATFORM, answer_task_id(TASK, 2))
        assert status.state is TaskState.QUEUED

    @pytest.mark.parametrize(
        "wanted",
        [
            WantAnswer(TASK, OTHER_PLATFORM, 2, []),  # another platform's task
            WantAnswer(TASK, PLATFORM, 4, []),  # more than the type allows
            WantAnswer(TASK, PLATFORM, 1, []),  # answer 1 is the task itself
            WantAnswer("unknown", PLATFORM, 2, []),
        ],
    )
    async def test_an_answer_the_task_cannot_have_changes_nothing(
        self, world: World, wanted: WantAnswer
    ) -> None:
        await _submitted(world, "c1")
        await _ingest_published(world)
        published = len(world.events.events)
        assert not await world.platform.want_answer(wanted)
        assert len(world.events.events) == published

    async def test_gold_and_copies_get_no_further_answers(self, world: World) -> None:
        await _submitted(world, "g1", gold="yes")
        await _ingest_published(world)
        gold = task_id_for(PLATFORM, "g1")
        assert not await world.platform.want_answer(WantAnswer(gold, PLATFORM, 2, []))


class TestCancel:
    async def test_cancelling_stops_further_answers_and_frees_their_escrow(
        self, world: World
    ) -> None:
        await _submitted(world, "c1")
        await _ingest_published(world)
        ana = await world.dispatch.connect(hello("ana"))
        await _answer(world, ana)
        assert await world.platform.want_answer(WantAnswer(TASK, PLATFORM, 2, ["ana"]))
        copy = world.events.of_type(TaskSubmitted)[-1].task

        state = await world.platform.cancel_task(PLATFORM, TASK, "enough data")

        assert state is TaskState.CANCELLED
        # Answer 1 stands (answered); 2 was queued and 3 never asked: both released, and
        # each names the task it would have answered, for scoring.
        cancelled = world.events.of_type(TaskCancelled)
        assert [(e.task_id, e.answer_of) for e in cancelled] == [
            (answer_task_id(TASK, 2), TASK),
            (answer_task_id(TASK, 3), TASK),
        ]
        await world.dispatch.ingest(copy)
        submitted = len(world.events.of_type(TaskSubmitted))
        # Scoring asks for answer 3 after all: told again that it was withdrawn, not queued.
        assert await world.platform.want_answer(WantAnswer(TASK, PLATFORM, 3, ["ana"]))
        assert len(world.events.of_type(TaskSubmitted)) == submitted
        assert world.events.of_type(TaskCancelled)[-1] == TaskCancelled(
            answer_task_id(TASK, 3), PLATFORM, ASKED_AFTER_WITHDRAWAL, TASK
        )
        ben = await world.dispatch.connect(hello("ben"))
        await world.dispatch._dispatch_round()
        assert offers_in(drain(ben)) == []
        status = await world.platform.get_task(PLATFORM, TASK)
        assert status.state is TaskState.SUBMITTED

    async def test_an_answer_being_worked_on_is_finished_when_the_task_is_cancelled(
        self, world: World
    ) -> None:
        await _submitted(world, "c1")
        await _ingest_published(world)
        ana = await world.dispatch.connect(hello("ana"))
        await world.dispatch._dispatch_round()
        [push] = offers_in(drain(ana))
        await world.dispatch.accept(ana, push.offer.offer_id)

        assert await world.platform.cancel_task(PLATFORM, TASK, "stop") is TaskState.CANCELLED

        status = await world.platform.get_task(PLATFORM, TASK)
        assert (status.state, status.worker_id) == (TaskState.LEASED, "ana")
        cancelled = [e.task_id for e in world.events.of_type(TaskCancelled)]
        assert cancelled == [answer_task_id(TASK, 2), answer_task_id(TASK, 3)]

    async def test_a_task_cancelled_before_it_reached_the_queue_frees_every_answer(
        self, world: World
    ) -> None:
        await _submitted(world, "c1")
        assert await world.platform.cancel_task(PLATFORM, TASK, "oops") is TaskState.CANCELLED
        cancelled = [(e.task_id, e.answer_of) for e in world.events.of_type(TaskCancelled)]
        assert cancelled == [(TASK, "")] + [(answer_task_id(TASK, n), TASK) for n in (2, 3)]


class TestDeadlines:
    async def test_a_task_that_expires_frees_the_answers_never_asked_for(
        self, world: World
    ) -> None:
        await _submitted(world, "c1", deadline=world.clock.now() + timedelta(minutes=5))
        await _ingest_published(world)
        world.clock.advance(301)

        await world.dispatch._expire_overdue_tasks()

        cancelled = [
            (e.task_id, e.reason, e.answer_of) for e in world.events.of_type(TaskCancelled)
        ]
        assert cancelled == [(TASK, "deadline passed", "")] + [
            (answer_task_id(TASK, n), "deadline passed", TASK) for n in (2, 3)
        ]
        # Asked for all the same (scoring never would): the copy is never queued.
        submitted = len(world.events.of_type(TaskSubmitted))
        assert await world.platform.want_answer(WantAnswer(TASK, PLATFORM, 2, []))
        assert len(world.events.of_type(TaskSubmitted)) == submitted
        status = await world.platform.get_task(PLATFORM, answer_task_id(TASK, 2))
        assert status.state is TaskState.CANCELLED

    async def test_a_further_answer_that_expires_frees_only_the_answers_after_it(
        self, world: World
    ) -> None:
        await _submitted(world, "c1", deadline=world.clock.now() + timedelta(minutes=5))
        await _ingest_published(world)
        ana = await world.dispatch.connect(hello("ana"))
        await _answer(world, ana)
        assert await world.platform.want_answer(WantAnswer(TASK, PLATFORM, 2, ["ana"]))
        await world.dispatch.ingest(world.events.of_type(TaskSubmitted)[-1].task)
        world.clock.advance(301)

        await world.dispatch._expire_overdue_tasks()

        # Both name the task they would have answered: scoring settles it with answer 1.
        cancelled = [(e.task_id, e.answer_of) for e in world.events.of_type(TaskCancelled)]
        assert cancelled == [(answer_task_id(TASK, 2), TASK), (answer_task_id(TASK, 3), TASK)]
        status = await world.platform.get_task(PLATFORM, TASK)
        assert status.state is TaskState.SUBMITTED


class TestSettled:
    """Scoring's AnswersAggregated lets the store keep the task and its copies only as any task
    done (Redis holds them until then: tests/contract/test_redis_retention.py)."""

    async def test_the_task_and_every_copy_are_let_go(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settled: list[tuple[str, list[str]]] = []

        async def settle(task_id: str, copy_ids: Sequence[str]) -> None:
            settled.append((task_id, list(copy_ids)))

        monkeypatch.setattr(world.store, "settle", settle)
        aggregated = events_pb2.AnswersAggregated(
            task_id=TASK, platform_id=PLATFORM, answers=2, unused_task_ids=[COPY_3]
        )

        await AnswerRequests(world.platform)(envelope_pb2.Envelope(answers_aggregated=aggregated))

        assert settled == [(TASK, [answer_task_id(TASK, 2), COPY_3])]
        assert world.events.events == []

    @pytest.mark.parametrize(
        "aggregated",
        [
            events_pb2.AnswersAggregated(platform_id=PLATFORM, answers=2),
            events_pb2.AnswersAggregated(task_id=TASK, platform_id=PLATFORM, answers=11),
        ],
    )
    async def test_a_malformed_one_is_poison(
        self, world: World, aggregated: events_pb2.AnswersAggregated
    ) -> None:
        with pytest.raises(PoisonMessageError):
            await AnswerRequests(world.platform)(
                envelope_pb2.Envelope(answers_aggregated=aggregated)
            )
