"""Script calls made in the same turn share one pipeline; each caller gets its own reply."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from redis.exceptions import ResponseError

from dispatcher.adapters.redis_batch import ScriptBatches, run_all

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(stack_endpoints: Any) -> AsyncIterator["redis.Redis"]:
    client = redis.from_url(stack_endpoints.redis_url)
    yield client
    await client.aclose()


async def test_calls_in_one_turn_share_a_pipeline_and_each_gets_its_own_reply(
    client: "redis.Redis", monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fresh script texts: Redis does not know them yet, so the first calls meet NOSCRIPT.
    echo = client.register_script(f"-- {uuid.uuid4()}\nreturn ARGV[1]")
    refuse = client.register_script(f"-- {uuid.uuid4()}\nreturn redis.error_reply(ARGV[1])")
    batches = ScriptBatches(client)
    pipelines = 0
    pipeline = client.pipeline

    def counted(**kwargs: Any) -> Any:
        nonlocal pipelines
        pipelines += 1
        return pipeline(**kwargs)

    monkeypatch.setattr(client, "pipeline", counted)

    for _ in range(2):  # NOSCRIPT then, once loaded, straight through
        replies = await asyncio.gather(
            batches.call(echo, ["a"]),
            batches.call(refuse, ["no"]),
            batches.call(echo, [b"c"]),
            return_exceptions=True,
        )

        assert replies[0] == b"a"
        assert isinstance(replies[1], ResponseError)
        assert str(replies[1]) == "no"
        assert replies[2] == b"c"
    assert pipelines == 2


async def test_a_lost_connection_fails_every_call_of_its_batch() -> None:
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.5, retry_on_error=[])
    script = unreachable.register_script("return 1")
    batches = ScriptBatches(unreachable)

    replies = await asyncio.gather(
        batches.call(script, []), batches.call(script, []), return_exceptions=True
    )

    assert all(isinstance(reply, redis.ConnectionError) for reply in replies)
    await unreachable.aclose()


async def test_a_pipeline_of_scripts_asks_redis_nothing_but_the_scripts(
    client: "redis.Redis",
) -> None:
    key = f"test:{uuid.uuid4()}"
    # Fresh script texts: the first pipeline meets NOSCRIPT and loads them.
    incr = client.register_script(
        f"-- {uuid.uuid4()}\nreturn redis.call('INCR', KEYS[1] or ARGV[1])"
    )
    refuse = client.register_script(f"-- {uuid.uuid4()}\nreturn redis.error_reply(ARGV[1])")

    assert await run_all(client, [(incr, [key]), (incr, [key])]) == [1, 2]
    before = (await client.info("commandstats")).get("cmdstat_script|exists", {}).get("calls", 0)
    assert await run_all(client, [(incr, [key])]) == [3]
    with pytest.raises(ResponseError, match="refused"):
        await run_all(client, [(refuse, ["refused"]), (incr, [key])])

    assert int(await client.get(key)) == 4  # the call after the refused one ran too
    after = (await client.info("commandstats")).get("cmdstat_script|exists", {}).get("calls", 0)
    assert after == before
