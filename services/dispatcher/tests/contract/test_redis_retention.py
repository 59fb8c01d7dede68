"""Redis only: a finished task and an ended lease are dropped once the time they are kept is
over, without their content and draft meanwhile, while everything still in play stays; a task
several workers answer keeps its content, and its copies their state, until scoring settles
it."""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from store_helpers import ALIVE, PLATFORM, REPLICA, T0, at, dropped, leased, make_task, queued

from dispatcher.adapters.redis_log import RedisTransitionLog
from dispatcher.adapters.redis_store import RedisTaskStore
from dispatcher.domain.model import Overlap, Task, TaskState
from dispatcher.service_layer.ports import Accepted
from fairtask_runtime.answers import answer_task_id

pytestmark = pytest.mark.integration

KEPT_S = 1.0
HELD_S = 3600.0


@dataclasses.dataclass
class Kept:
    store: RedisTaskStore
    client: "redis.Redis"
    prefix: str

    async def ttl_ms(self, kind: str, key: str) -> int:
        return int(await self.client.pttl(f"{self.prefix}{kind}:{key}"))

    async def state(self, task_id: str) -> TaskState | None:
        status = await self.store.status(PLATFORM, task_id)
        return status.state if status is not None else None

    async def kept_only(self, task_id: str) -> bool:
        """Dropped after the time kept, not held for scoring."""
        return 0 < await self.ttl_ms("task", task_id) <= KEPT_S * 1000

    async def held(self, task_id: str) -> bool:
        return KEPT_S * 1000 < await self.ttl_ms("task", task_id) <= HELD_S * 1000


def answered_thrice(client_id: str) -> Task:
    task = make_task(client_id)
    kind = dataclasses.replace(task.task_type, overlap=Overlap(2, 3, 0.9))
    return dataclasses.replace(task, task_type=kind)


def copy_of(original: Task, number: int) -> Task:
    return dataclasses.replace(
        original,
        task_id=answer_task_id(original.task_id, number),
        answer_of=original.task_id,
        answer_number=number,
    )


@pytest.fixture
async def kept(stack_endpoints: Any) -> AsyncIterator[Kept]:
    client = redis.from_url(stack_endpoints.redis_url)
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    await RedisTransitionLog(client, prefix).beat(REPLICA, ALIVE)
    try:
        store = RedisTaskStore(
            client, prefix, REPLICA, finished_kept_s=KEPT_S, unsettled_kept_s=HELD_S
        )
        yield Kept(store, client, prefix)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_done_cancelled_and_expired_tasks_go_after_the_time_kept(kept: Kept) -> None:
    store = kept.store
    done, cancelled, working, waiting = (make_task(c) for c in ("done", "cxl", "work", "wait"))
    expired = dataclasses.replace(make_task("late"), deadline=at(30))
    await leased(store, done)
    assert await store.complete("l1", "w1", b"3 cars", 9, "s1", at(10))
    await queued(store, cancelled)
    await store.cancel(PLATFORM, cancelled.task_id)
    await queued(store, expired)
    assert await store.expire(expired, ["copy-of-late"], at(31), at(100))
    await leased(store, working, "w2", "l2")
    await queued(store, waiting)

    for task_id in (done.task_id, cancelled.task_id, expired.task_id):
        assert await kept.kept_only(task_id)
        # Their content (the bulk of their memory) goes at once; their state stays.
        assert await store.task(task_id) is None
        assert await kept.state(task_id) is not None
    assert 0 < await kept.ttl_ms("lease", "l1") <= KEPT_S * 1000
    assert await kept.client.hget(f"{kept.prefix}lease:l1", "draft") is None
    assert await store.lease_worker("l1") == "w1"
    for task_id in (working.task_id, waiting.task_id):
        assert await kept.ttl_ms("task", task_id) == -1  # in play: never dropped
        assert await store.task(task_id) is not None
    assert await kept.ttl_ms("lease", "l2") == -1
    # Never to be asked for: held while scoring may still ask, so it is not queued then.
    assert await kept.held("copy-of-late")

    await asyncio.sleep(KEPT_S + 0.3)

    for task_id in (done.task_id, cancelled.task_id, expired.task_id):
        assert await kept.state(task_id) is None
    assert await store.get_lease("l1") is None
    assert await store.lease_worker("l1") is None
    assert await kept.state("copy-of-late") is TaskState.CANCELLED
    assert await kept.state(working.task_id) is TaskState.LEASED
    assert await kept.state(waiting.task_id) is TaskState.QUEUED
    assert await store.get_lease("l2") is not None
    assert await store.complete("l2", "w2", b"2 cars", 9, "s2", at(20))


async def test_a_released_lease_goes_and_its_task_waits_again(kept: Kept) -> None:
    store = kept.store
    task = make_task("c1")
    await leased(store, task)
    await dropped(store, "w1", at(5), at(2))
    assert await store.release("l1", "grace period ended", at(5)) is not None

    await asyncio.sleep(KEPT_S + 0.3)

    assert await store.get_lease("l1") is None
    assert await kept.state(task.task_id) is TaskState.QUEUED
    assert [t.task_id for t in await store.queued_tasks([task.pool])] == [task.task_id]


async def test_an_original_is_kept_while_a_further_answer_is_in_play(kept: Kept) -> None:
    store = kept.store
    original = make_task("c1")
    await leased(store, original)
    assert await store.complete("l1", "w1", b"yes", 9, "s1", at(10))
    assert await kept.ttl_ms("task", original.task_id) > 0
    copy = dataclasses.replace(
        original, task_id="answer-2-of-c1", answer_of=original.task_id, answer_number=2
    )

    await leased(store, copy, "w2", "l2")
    assert await kept.ttl_ms("task", original.task_id) == -1  # its status, its further copies

    assert await store.complete("l2", "w2", b"no", 9, "s2", at(20))
    assert 0 < await kept.ttl_ms("task", original.task_id) <= KEPT_S * 1000
    assert 0 < await kept.ttl_ms("task", copy.task_id) <= KEPT_S * 1000


async def test_a_task_several_answer_keeps_its_content_until_scoring_settles_it(
    kept: Kept,
) -> None:
    store = kept.store
    original = answered_thrice("c1")
    await leased(store, original)
    assert await store.complete("l1", "w1", b"yes", 9, "s1", at(10))
    # Scoring may ask for a second answer: its copy is built from the original's content.
    assert await kept.held(original.task_id)
    assert await store.task(original.task_id) == original

    second = copy_of(original, 2)
    await leased(store, second, "w2", "l2")
    assert await kept.ttl_ms("task", original.task_id) == -1
    assert await store.complete("l2", "w2", b"no", 9, "s2", at(20))
    assert await kept.held(original.task_id)
    assert await kept.held(second.task_id)
    assert await store.task(original.task_id) == original
    assert await store.task(second.task_id) is None  # copies are built from the original

    third = answer_task_id(original.task_id, 3)
    await store.settle(original.task_id, [second.task_id, third])

    assert await kept.kept_only(original.task_id)
    assert await kept.kept_only(second.task_id)
    assert await store.task(original.task_id) is None
    assert await kept.state(original.task_id) is TaskState.SUBMITTED
    assert await kept.ttl_ms("task", third) == -2  # never asked for, nothing made up
    await store.settle(original.task_id, [second.task_id, third])  # delivered again: the same
    assert await kept.kept_only(original.task_id)

    await asyncio.sleep(KEPT_S + 0.3)
    assert await kept.state(original.task_id) is None
    assert await kept.state(second.task_id) is None


async def test_a_copy_in_play_when_its_task_is_settled_lets_it_go_once_done(kept: Kept) -> None:
    store = kept.store
    original = answered_thrice("c1")
    await leased(store, original)
    assert await store.complete("l1", "w1", b"yes", 9, "s1", at(10))
    second = copy_of(original, 2)
    await leased(store, second, "w2", "l2")

    # Settled with the deadline's answers, say, while the copy is still being worked on.
    await store.settle(original.task_id, [second.task_id])
    assert await kept.ttl_ms("task", original.task_id) == -1
    assert await kept.ttl_ms("task", second.task_id) == -1

    assert await store.complete("l2", "w2", b"no", 9, "s2", at(20))
    assert await kept.kept_only(original.task_id)
    assert await kept.kept_only(second.task_id)
    assert await store.task(original.task_id) is None


async def test_tasks_several_answer_that_no_one_answered_are_not_held(kept: Kept) -> None:
    store = kept.store
    cancelled, expired = answered_thrice("cxl"), answered_thrice("late")
    expired = dataclasses.replace(expired, deadline=at(30))
    gold = dataclasses.replace(answered_thrice("gold"), gold_answer="yes")
    await queued(store, cancelled, expired)
    await store.cancel(PLATFORM, cancelled.task_id)
    assert await store.expire(expired, [], at(31), at(100))
    await leased(store, gold)
    assert await store.complete("l1", "w1", b"yes", 9, "s1", at(10))

    # No answer to build a further one on, or (gold) answered once: nothing to hold.
    for task in (cancelled, expired, gold):
        assert await kept.kept_only(task.task_id)
        assert await store.task(task.task_id) is None


async def test_a_task_an_earlier_version_queued_is_held_as_it_would_have_kept_it(
    kept: Kept,
) -> None:
    # Versions before this one kept every task done whole, and did not record how many answers
    # it may need: such a task, finished by this one, may still be asked further answers of.
    store = kept.store
    task = answered_thrice("c1")
    await leased(store, task)
    await kept.client.hdel(f"{kept.prefix}task:{task.task_id}", "answers")
    assert await store.complete("l1", "w1", b"yes", 9, "s1", at(10))

    assert await kept.held(task.task_id)
    assert await store.task(task.task_id) == task


async def test_a_task_cancelled_on_its_way_is_held_until_it_arrives(kept: Kept) -> None:
    # However far behind the consumer is, the cancelled task is refused when Kafka brings it.
    store = kept.store
    task = make_task("c1")
    accepted = Accepted(task.client_task_id, task.task_id, "print", task.task_type.name)
    await store.record_accepted(PLATFORM, [accepted])
    await store.cancel(PLATFORM, task.task_id)
    assert await kept.held(task.task_id)

    assert not await store.ingest(task, T0)

    assert await kept.kept_only(task.task_id)
    assert await kept.state(task.task_id) is TaskState.CANCELLED
    assert await store.queued_tasks([task.pool]) == []


async def test_how_many_answers_a_task_an_earlier_version_queued_may_need_is_unknown(
    kept: Kept,
) -> None:
    task = answered_thrice("c1")
    await queued(kept.store, task)
    await kept.client.hdel(f"{kept.prefix}task:{task.task_id}", "answers")

    status = await kept.store.status(PLATFORM, task.task_id)
    assert status is not None
    assert status.answers is None  # not 1: cancelling then reads it from the task itself
    assert (await kept.store.task(task.task_id)) == task


async def test_an_overdue_entry_whose_task_is_gone_is_dropped(kept: Kept) -> None:
    task = dataclasses.replace(make_task("c1"), deadline=at(30))
    await queued(kept.store, task)
    await kept.client.zadd(f"{kept.prefix}deadlines", {"gone": 1})

    assert await kept.store.overdue_tasks(at(31), 10) == [task]

    assert await kept.client.zrange(f"{kept.prefix}deadlines", 0, -1) == [task.task_id.encode()]
