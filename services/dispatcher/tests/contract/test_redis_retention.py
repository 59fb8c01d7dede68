"""Redis only: a finished task and an ended lease are dropped once the time they are kept is
over, while everything still in play stays."""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from store_helpers import ALIVE, PLATFORM, REPLICA, at, dropped, leased, make_task, queued

from dispatcher.adapters.redis_log import RedisTransitionLog
from dispatcher.adapters.redis_store import RedisTaskStore
from dispatcher.domain.model import TaskState

pytestmark = pytest.mark.integration

KEPT_S = 1.0


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


@pytest.fixture
async def kept(stack_endpoints: Any) -> AsyncIterator[Kept]:
    client = redis.from_url(stack_endpoints.redis_url)
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    await RedisTransitionLog(client, prefix).beat(REPLICA, ALIVE)
    try:
        yield Kept(RedisTaskStore(client, prefix, REPLICA, finished_kept_s=KEPT_S), client, prefix)
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

    for task_id in (done.task_id, cancelled.task_id, expired.task_id, "copy-of-late"):
        assert 0 < await kept.ttl_ms("task", task_id) <= KEPT_S * 1000
    assert 0 < await kept.ttl_ms("lease", "l1") <= KEPT_S * 1000
    for task_id in (working.task_id, waiting.task_id):
        assert await kept.ttl_ms("task", task_id) == -1  # in play: never dropped
    assert await kept.ttl_ms("lease", "l2") == -1

    await asyncio.sleep(KEPT_S + 0.3)

    for task_id in (done.task_id, cancelled.task_id, expired.task_id, "copy-of-late"):
        assert await kept.state(task_id) is None
    assert await store.get_lease("l1") is None
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


async def test_an_overdue_entry_whose_task_is_gone_is_dropped(kept: Kept) -> None:
    task = dataclasses.replace(make_task("c1"), deadline=at(30))
    await queued(kept.store, task)
    await kept.client.zadd(f"{kept.prefix}deadlines", {"gone": 1})

    assert await kept.store.overdue_tasks(at(31), 10) == [task]

    assert await kept.client.zrange(f"{kept.prefix}deadlines", 0, -1) == [task.task_id.encode()]
