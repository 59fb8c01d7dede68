"""Platforms as tenants, against real Redis and Kafka: API keys, isolation, idempotence across
platforms, and backpressure when a platform submits faster than it is served."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from worker_clients import Lab, Running, WsWorker, dispatcher_for_tests

from dispatcher.domain.model import task_id_for
from fairtask.v1 import dispatcher_pb2 as d
from fairtask_runtime.grpc.errors import RETRY_AFTER, field_violations_of, retry_delay_of
from fairtask_runtime.grpc.identity import MISSING_KEY, REFUSED_KEY, bearer

pytestmark = pytest.mark.integration

BACKLOG_MAX = 3
RETRY_AFTER_S = 1.5
# The dispatcher trusts a verified key for platform_key_cache_s (2 s by default).
REVOCATION_BITES_WITHIN_S = 4.0


@pytest.fixture(scope="module")
async def bounded(stack_endpoints: Any) -> AsyncIterator[Running]:
    """A dispatcher of its own: at most BACKLOG_MAX tasks of one platform may wait."""
    async with dispatcher_for_tests(
        stack_endpoints,
        offer_ttl_s=60.0,
        platform_backlog_max=BACKLOG_MAX,
        backlog_retry_after_s=RETRY_AFTER_S,
    ) as app:
        yield app


def fresh_platform() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def tasks(lab: Lab, *client_ids: str) -> d.SubmitTasksRequest:
    return d.SubmitTasksRequest(
        tasks=[
            d.NewTask(client_task_id=f"{lab.name}-{c}", task_type=lab.name, payload=b"photo")
            for c in client_ids
        ]
    )


async def test_calls_need_a_live_key_and_rotation_keeps_the_platform_working(
    bounded: Running,
) -> None:
    unknown = d.GetTaskRequest(task_id=str(uuid.uuid4()))
    for metadata, details in (
        ((), MISSING_KEY),
        ((("x-platform-id", "lab-a"),), MISSING_KEY),  # the old trusted header means nothing
        (bearer("ftk_0123456789abcdef_" + "x" * 43), REFUSED_KEY),
    ):
        error = await rpc_error(bounded.platform.GetTask(unknown, metadata=metadata, timeout=5))
        assert (error.code(), error.details()) == (grpc.StatusCode.UNAUTHENTICATED, details)

    platform = fresh_platform()
    old = await bounded.service.platform_keys.issue(platform)
    new = await bounded.service.platform_keys.issue(platform)
    for key in (old.key, new.key):  # both live during the rotation: authenticated, no such task
        error = await rpc_error(bounded.platform.GetTask(unknown, metadata=bearer(key), timeout=5))
        assert error.code() == grpc.StatusCode.NOT_FOUND

    await bounded.service.platform_keys.revoke(old.key_id)
    loop = asyncio.get_running_loop()
    revoked_at = loop.time()
    while True:
        error = await rpc_error(
            bounded.platform.GetTask(unknown, metadata=bearer(old.key), timeout=5)
        )
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:
            break
        assert loop.time() - revoked_at < REVOCATION_BITES_WITHIN_S, "revocation did not bite"
        await asyncio.sleep(0.1)  # nothing to await: the cache entry simply runs out
    error = await rpc_error(bounded.platform.GetTask(unknown, metadata=bearer(new.key), timeout=5))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_a_platform_sees_and_cancels_only_its_own_tasks(bounded: Running) -> None:
    mine = await bounded.lab(platform_id=fresh_platform())
    theirs = await bounded.lab(platform_id=fresh_platform())
    task_id = await mine.submit("private")
    never_existed = str(uuid.uuid4())

    for ask in (
        lambda tid, who: bounded.platform.GetTask(d.GetTaskRequest(task_id=tid), metadata=who),
        lambda tid, who: bounded.platform.CancelTask(
            d.CancelTaskRequest(task_id=tid), metadata=who
        ),
    ):
        foreign = await rpc_error(ask(task_id, theirs.as_platform))
        unknown = await rpc_error(ask(never_existed, theirs.as_platform))
        # Exactly what an unknown id gets: the other platform learns nothing, not even existence.
        assert foreign.code() == unknown.code() == grpc.StatusCode.NOT_FOUND
        assert foreign.details() == unknown.details().replace(never_existed, task_id)

    status = await bounded.platform.GetTask(
        d.GetTaskRequest(task_id=task_id), metadata=mine.as_platform
    )
    assert status.state == d.TASK_STATE_QUEUED  # the other platform's cancel changed nothing
    cancelled = await bounded.platform.CancelTask(
        d.CancelTaskRequest(task_id=task_id, reason="changed our mind"), metadata=mine.as_platform
    )
    assert cancelled.state == d.TASK_STATE_CANCELLED


async def test_two_platforms_may_use_the_same_task_id_without_colliding(bounded: Running) -> None:
    labs = [await bounded.lab(platform_id=fresh_platform()) for _ in range(2)]
    same = d.NewTask(client_task_id="order-1", payload=b"photo")
    answers = []
    for lab in labs:
        same.task_type = lab.name
        request = d.SubmitTasksRequest(tasks=[same])
        first = await bounded.platform.SubmitTasks(request, metadata=lab.as_platform, timeout=5)
        again = await bounded.platform.SubmitTasks(request, metadata=lab.as_platform, timeout=5)
        assert not first.tasks[0].duplicate
        assert again.tasks[0] == d.SubmittedTask(
            client_task_id="order-1", task_id=first.tasks[0].task_id, duplicate=True
        )
        answers.append(first.tasks[0].task_id)
    assert answers[0] != answers[1]
    for lab, task_id in zip(labs, answers, strict=True):
        status = await bounded.platform.GetTask(
            d.GetTaskRequest(task_id=task_id), metadata=lab.as_platform
        )
        assert (status.client_task_id, status.task_type) == ("order-1", lab.name)


async def test_a_full_backlog_refuses_whole_batches_with_a_retry_hint_until_work_drains(
    bounded: Running,
) -> None:
    busy = await bounded.lab(platform_id=fresh_platform())
    calm = await bounded.lab(platform_id=fresh_platform())
    submit = bounded.platform.SubmitTasks
    await submit(tasks(busy, "a1", "a2"), metadata=busy.as_platform, timeout=5)

    refused = await rpc_error(submit(tasks(busy, "a3", "a4"), metadata=busy.as_platform))
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "nothing of this batch was accepted" in (refused.details() or "")
    assert retry_delay_of(refused) == RETRY_AFTER_S
    trailers = dict(refused.trailing_metadata() or ())
    assert trailers[RETRY_AFTER] == "2"  # whole seconds, rounded up
    a3 = task_id_for(busy.platform_id, f"{busy.name}-a3")
    missing = await rpc_error(
        bounded.platform.GetTask(d.GetTaskRequest(task_id=a3), metadata=busy.as_platform)
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND  # all or nothing

    # A retry of tasks already accepted is still answered: it adds nothing to wait.
    repeat = await submit(tasks(busy, "a1"), metadata=busy.as_platform, timeout=5)
    assert repeat.tasks[0].duplicate
    # Another platform is not held back by this one's backlog.
    others = await submit(tasks(calm, "b1", "b2", "b3"), metadata=calm.as_platform, timeout=5)
    assert not any(t.duplicate for t in others.tasks)
    # A batch that could never fit is a mistake, not a reason to wait.
    too_big = await rpc_error(submit(tasks(busy, "x", "y", "z", "w"), metadata=busy.as_platform))
    assert too_big.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(too_big)] == ["tasks"]

    # A worker takes one of the busy platform's tasks: one place frees up, and the same
    # batch is now accepted whole.
    token = await busy.register("w-drain")
    async with WsWorker.open(bounded.ws_url()) as worker:
        await worker.hello(token)
        offer = await worker.next("offer")
        assert offer["task_id"] in {t.task_id for t in repeat.tasks} | {
            task_id_for(busy.platform_id, f"{busy.name}-a2")
        }
        accepted = await submit(tasks(busy, "a3", "a4"), metadata=busy.as_platform, timeout=5)
    assert [t.duplicate for t in accepted.tasks] == [False, False]
