"""Script calls made in the same turn of the event loop, sent to Redis in one pipeline.

Each worker message (an accept, a submit) runs its own script, from its own task. redis-py
spends several times more CPU on a call of its own (a pooled connection taken and given back,
its timeout, its retry wrapper) than on the same command inside a pipeline, and under load
many workers' messages arrive in the same turn. So those calls are queued, and the queue is
sent once per turn as one pipeline (not a transaction): each script is still its own atomic
step, run in the order it was called, and each caller gets its own reply or error.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

_Call = tuple[AsyncScript, list[EncodableT], "asyncio.Future[Any]"]
ScriptCall = tuple[AsyncScript, list[EncodableT]]


async def run_pipelined(client: "redis.Redis", calls: Sequence[ScriptCall]) -> list[Any]:
    """Runs the scripts in one pipeline (not a transaction), in order, each its own atomic
    step: their replies, or for a call that failed its error (not raised). Scripts go by
    their hash alone: redis-py's pipelines ask Redis first whether it has them, a round trip
    more per pipeline. A script Redis lost (a restart) did not run, so it is loaded and run
    again."""
    async with client.pipeline(transaction=False) as pipe:
        for script, args in calls:
            pipe.evalsha(script.sha, 0, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    for i, ((script, args), result) in enumerate(zip(calls, replies, strict=True)):
        if isinstance(result, NoScriptError):
            try:
                replies[i] = await script(args=args)
            except Exception as error:
                replies[i] = error
    return replies


async def run_all(client: "redis.Redis", calls: Sequence[ScriptCall]) -> list[Any]:
    """As run_pipelined, but raises the first call's error once all have run."""
    replies = await run_pipelined(client, calls)
    for result in replies:
        if isinstance(result, Exception):
            raise result
    return replies


class ScriptBatches:
    def __init__(self, client: "redis.Redis") -> None:
        self._r = client
        self._queued: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, script: AsyncScript, args: list[EncodableT]) -> Any:
        """As `await script(args=args)`: the script's reply; raises what the call would.
        Cancelling the caller does not take the script back once its turn has ended."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._send_queued)
        self._queued.append((script, args, reply))
        return await reply

    def _send_queued(self) -> None:
        calls, self._queued = self._queued, []
        task = asyncio.create_task(self._send(calls))
        # Held until done: the loop keeps only weak references to tasks.
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, calls: list[_Call]) -> None:
        try:
            replies = await run_pipelined(self._r, [(script, args) for script, args, _ in calls])
        except Exception as error:  # the connection: every call of the batch fails with it
            for _, _, reply in calls:
                _settle(reply, error=error)
            return
        for (_, _, reply), result in zip(calls, replies, strict=True):
            if isinstance(result, Exception):
                _settle(reply, error=result)
            else:
                _settle(reply, result)


def _settle(
    reply: "asyncio.Future[Any]", result: Any = None, error: Exception | None = None
) -> None:
    if reply.done():  # its caller was cancelled
        return
    if error is not None:
        reply.set_exception(error)
    else:
        reply.set_result(result)
