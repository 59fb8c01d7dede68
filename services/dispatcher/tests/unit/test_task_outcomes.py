"""What became of each platform's task, from the dispatcher's own events, for GetTask once
Redis has let the task go (on fakes: the store forgets the task here by hand)."""

import pytest
from dispatcher_world import PLATFORM, World

from dispatcher.domain.errors import ConflictError, NotFoundError, TaskRecordsUnavailableError
from dispatcher.domain.events import TaskCancelled, TaskSubmitted
from dispatcher.domain.model import NewTask, TaskState, TaskType, task_id_for
from dispatcher.entrypoints.consumers import TaskOutcomes
from dispatcher.service_layer.platform import SubmitTasks
from dispatcher.service_layer.transitions import DEADLINE_PASSED
from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_runtime.answers import answer_task_id
from fairtask_runtime.envelope import PoisonMessageError

KIND = TaskType("bbox", "Lab A finds cars in street photos", 400_000, 90)
DONE, WITHDRAWN, LATE = (task_id_for(PLATFORM, c) for c in ("done", "withdrawn", "late"))


async def _accepted_then_forgotten(world: World) -> None:
    await world.platform.define_task_type(PLATFORM, KIND)
    tasks = [NewTask(c, "bbox", b"img") for c in ("done", "withdrawn", "late")]
    await world.platform.submit_tasks(SubmitTasks(PLATFORM, tasks))
    for task_id in (DONE, WITHDRAWN, LATE):  # what Redis does an hour after they are done
        world.store.state.tasks.pop(task_id, None)


def _submitted(task_id: str, worker_id: str) -> envelope_pb2.Envelope:
    received = events_pb2.SubmissionReceived(task_id=task_id, worker_id=worker_id)
    return envelope_pb2.Envelope(submission_received=received)


def _cancelled(task_id: str, reason: str = "", answer_of: str = "") -> envelope_pb2.Envelope:
    cancelled = events_pb2.TaskCancelled(task_id=task_id, reason=reason, answer_of=answer_of)
    return envelope_pb2.Envelope(task_cancelled=cancelled)


async def test_get_task_tells_what_became_of_a_task_redis_let_go(world: World) -> None:
    await _accepted_then_forgotten(world)
    offered = envelope_pb2.Envelope(task_offered=events_pb2.TaskOffered(task_id=DONE))

    await TaskOutcomes(world.platform).many(
        [
            offered,  # not an outcome
            _submitted(DONE, "w-1"),
            _cancelled(WITHDRAWN, "no longer needed"),
            _cancelled(LATE, DEADLINE_PASSED),
            _cancelled(answer_task_id(DONE, 2), DEADLINE_PASSED, answer_of=DONE),  # a copy
        ]
    )

    done = await world.platform.get_task(PLATFORM, DONE)
    assert (done.client_task_id, done.task_type, done.state, done.worker_id) == (
        "done",
        "bbox",
        TaskState.SUBMITTED,
        "w-1",
    )
    assert (await world.platform.get_task(PLATFORM, WITHDRAWN)).state is TaskState.CANCELLED
    assert (await world.platform.get_task(PLATFORM, LATE)).state is TaskState.EXPIRED
    with pytest.raises(NotFoundError):
        await world.platform.get_task("lab-b", DONE)


async def test_a_task_not_done_that_redis_does_not_know_is_unknown(world: World) -> None:
    await _accepted_then_forgotten(world)

    with pytest.raises(NotFoundError):
        await world.platform.get_task(PLATFORM, DONE)


async def test_postgres_unreachable_when_only_it_could_answer_is_unavailable(
    world: World,
) -> None:
    await _accepted_then_forgotten(world)
    world.client_tasks.failing.add("outcome")

    with pytest.raises(TaskRecordsUnavailableError):
        await world.platform.get_task(PLATFORM, DONE)


@pytest.mark.parametrize(
    "envelope",
    [_submitted("", "w-1"), _submitted(DONE, ""), _cancelled("")],
)
async def test_a_malformed_outcome_is_poison(world: World, envelope: envelope_pb2.Envelope) -> None:
    with pytest.raises(PoisonMessageError):
        await TaskOutcomes(world.platform)(envelope)


async def test_rows_bound_without_names_are_named_by_the_submission(world: World) -> None:
    world.client_tasks.named = False  # as an earlier version bound them
    await _accepted_then_forgotten(world)
    received = events_pb2.SubmissionReceived(
        task_id=DONE, worker_id="w-1", client_task_id="done", task_type="bbox"
    )

    await TaskOutcomes(world.platform).many(
        [envelope_pb2.Envelope(submission_received=received), _cancelled(WITHDRAWN, "gone")]
    )

    assert (await world.platform.get_task(PLATFORM, DONE)).worker_id == "w-1"
    with pytest.raises(NotFoundError):  # a cancellation does not name it
        await world.platform.get_task(PLATFORM, WITHDRAWN)


async def test_a_platform_cancelling_with_the_words_of_an_expiry_is_not_an_expiry(
    world: World,
) -> None:
    await world.platform.define_task_type(PLATFORM, KIND)
    await world.platform.submit_tasks(SubmitTasks(PLATFORM, [NewTask("done", "bbox", b"img")]))
    for event in world.events.of_type(TaskSubmitted):
        await world.dispatch.ingest(event.task)

    await world.platform.cancel_task(PLATFORM, DONE, DEADLINE_PASSED)

    [cancelled] = world.events.of_type(TaskCancelled)
    assert cancelled.reason != DEADLINE_PASSED


async def test_cancelling_a_task_redis_let_go_answers_from_what_became_of_it(
    world: World,
) -> None:
    await _accepted_then_forgotten(world)
    await TaskOutcomes(world.platform).many(
        [_submitted(DONE, "w-1"), _cancelled(WITHDRAWN, "no longer needed")]
    )

    # Too late for a task done; a repeat of a cancellation is told it is cancelled.
    with pytest.raises(ConflictError, match="submitted"):
        await world.platform.cancel_task(PLATFORM, DONE, "changed our mind")
    assert await world.platform.cancel_task(PLATFORM, WITHDRAWN, "again") is TaskState.CANCELLED
    # Not done, another platform's: unknown, as ever. Nothing was published for any of them.
    with pytest.raises(NotFoundError):
        await world.platform.cancel_task(PLATFORM, LATE, "unknown")
    with pytest.raises(NotFoundError):
        await world.platform.cancel_task("lab-b", DONE, "mine?")
    assert world.events.of_type(TaskCancelled) == []

    world.client_tasks.failing.add("outcome")
    with pytest.raises(TaskRecordsUnavailableError):
        await world.platform.cancel_task(PLATFORM, DONE, "changed our mind")
