"""Tasks whose deadline passes while they wait: the same contract for the in-memory fake and
for Redis with its scripts."""

import dataclasses

import pytest
from store_helpers import (
    PLATFORM,
    POOL,
    Stores,
    at,
    leased,
    make_task,
    queued,
    take,
    ttl,
)

from dispatcher.domain.errors import ConflictError
from dispatcher.domain.events import OfferOutcome, TaskCancelled
from dispatcher.domain.model import Task, TaskState
from dispatcher.service_layer.ports import TaskStore
from dispatcher.service_layer.transitions import Cancelled, Transition, event_of

PASSED = "deadline passed"
LATER = at(10_000)  # when a leased task is looked at again, unless a test says otherwise


def due_at(client_id: str, seconds: float) -> Task:
    return dataclasses.replace(make_task(client_id), deadline=at(seconds))


async def status_of(store: TaskStore, task_id: str) -> TaskState:
    status = await store.status(PLATFORM, task_id)
    assert status is not None
    return status.state


async def expiries(stores: Stores) -> list[Transition]:
    entries = await stores.log.read("0-0", 1000, 0.0)
    return [t for t in entries if isinstance(t.change, Cancelled)]


class TestOverdue:
    async def test_tasks_are_overdue_once_their_deadline_passed_earliest_first(
        self, store: TaskStore
    ) -> None:
        late, early = due_at("late", 60), due_at("early", 30)
        await queued(store, late, early, make_task("no-deadline"))

        assert await store.overdue_tasks(at(29.999), 10) == []
        assert await store.overdue_tasks(at(30), 10) == [early]
        assert await store.overdue_tasks(at(60), 10) == [early, late]
        assert await store.overdue_tasks(at(60), 1) == [early]

    async def test_done_or_cancelled_tasks_are_never_overdue(self, store: TaskStore) -> None:
        done, cancelled = due_at("done", 30), due_at("cancelled", 30)
        await leased(store, done)
        await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))
        await queued(store, cancelled)
        await store.cancel(PLATFORM, cancelled.task_id)

        assert await store.overdue_tasks(at(1000), 10) == []


class TestExpire:
    async def test_a_waiting_overdue_task_expires_and_is_never_offered(
        self, stores: Stores
    ) -> None:
        store = stores.tasks
        task = due_at("c1", 30)
        await queued(store, task)

        assert await store.expire(task, [], at(31), LATER)

        assert await status_of(store, task.task_id) is TaskState.EXPIRED
        assert await take(store, [POOL], "w1", "o1", ttl()) is None
        assert await store.queued_tasks([POOL]) == []
        assert await store.overdue_tasks(at(1000), 10) == []
        with pytest.raises(ConflictError):
            await store.cancel(PLATFORM, task.task_id)
        [entry] = await expiries(stores)
        assert entry.change == Cancelled(task.task_id, POOL, platform_id=PLATFORM, reason=PASSED)
        assert entry.at == at(31)
        assert entry.event_id  # the relay publishes it
        assert event_of(entry) == TaskCancelled(task.task_id, PLATFORM, PASSED)

    async def test_a_task_expires_once(self, stores: Stores) -> None:
        store = stores.tasks
        task = due_at("c1", 30)
        await queued(store, task)
        assert await store.expire(task, ["copy-2"], at(31), LATER)

        assert not await store.expire(task, ["copy-2"], at(32), LATER)

        assert len(await expiries(stores)) == 2  # the task and its copy, once each

    async def test_answers_not_asked_for_yet_are_cancelled_with_their_task(
        self, stores: Stores
    ) -> None:
        store = stores.tasks
        task, asked, never = due_at("c1", 30), due_at("c2", 30), due_at("c3", 30)
        await queued(store, task, asked)

        assert await store.expire(task, [never.task_id, asked.task_id], at(31), LATER)

        assert await status_of(store, never.task_id) is TaskState.CANCELLED
        assert not await store.ingest(never, at(40))  # asked for late: never queued
        assert await status_of(store, asked.task_id) is TaskState.QUEUED  # expires on its own
        entries = await expiries(stores)
        assert [t.change.task_id for t in entries if isinstance(t.change, Cancelled)] == [
            task.task_id,
            never.task_id,
        ]
        # The copy names the task it would have answered (scoring settles that task).
        assert [event_of(t) for t in entries] == [
            TaskCancelled(task.task_id, PLATFORM, PASSED),
            TaskCancelled(never.task_id, PLATFORM, PASSED, task.task_id),
        ]
        assert len({t.event_id for t in entries}) == 2

    async def test_an_expired_further_answer_and_those_after_it_name_the_task_they_answer(
        self, stores: Stores
    ) -> None:
        store = stores.tasks
        original, later = make_task("c1"), due_at("c3", 30)
        copy = dataclasses.replace(due_at("c2", 30), answer_of=original.task_id, answer_number=2)
        await queued(store, original, copy)

        assert await store.expire(copy, [later.task_id], at(31), LATER)

        assert [event_of(t) for t in await expiries(stores)] == [
            TaskCancelled(copy.task_id, PLATFORM, PASSED, original.task_id),
            TaskCancelled(later.task_id, PLATFORM, PASSED, original.task_id),
        ]

    async def test_an_offered_task_is_looked_at_again_when_its_offer_ends(
        self, store: TaskStore
    ) -> None:
        task = due_at("c1", 30)
        await queued(store, task)
        offer = await take(store, [POOL], "w1", "o1", at(60))
        assert offer is not None

        assert not await store.expire(task, [], at(31), LATER)

        assert await status_of(store, task.task_id) is TaskState.OFFERED
        assert await store.overdue_tasks(at(59.999), 10) == []
        assert await store.overdue_tasks(at(60), 10) == [task]
        assert await store.close_offer("o1", None, OfferOutcome.EXPIRED, at(60)) is not None
        assert await store.expire(task, [], at(60), LATER)
        assert await status_of(store, task.task_id) is TaskState.EXPIRED

    async def test_a_leased_task_is_looked_at_again_later_and_finishes(
        self, store: TaskStore
    ) -> None:
        task = due_at("c1", 30)
        await leased(store, task)

        assert not await store.expire(task, [], at(31), at(91))

        assert await status_of(store, task.task_id) is TaskState.LEASED
        assert await store.overdue_tasks(at(90.999), 10) == []
        assert await store.overdue_tasks(at(91), 10) == [task]
        assert await store.complete("l1", "w1", b"3 cars", 95, "s1", at(95))
        assert await store.overdue_tasks(at(1000), 10) == []
