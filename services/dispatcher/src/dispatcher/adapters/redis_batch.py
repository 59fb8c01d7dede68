"""Script calls made in the same turn of the event loop, sent to Redis in one pipeline.

Each worker message (an accept, a submit) runs its own script, from its own task. redis-py
spends several times more CPU on a call of its own (a pooled connection taken and given back,
its timeout, its retry wrapper) than on the same command inside a pipeline, and under load
many workers' messages arrive in the same turn. So those calls are queued, and the queue is
sent once per turn as one pipeline (not a transaction): each script is still its own atomic
step, run in the order it was called, and each caller gets its own reply or error.
"""

import asyncio
from typing import Any

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

_Call = tuple[AsyncScript, list[EncodableT], "asyncio.Future[Any]"]


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
            async with self._r.pipeline(transaction=False) as pipe:
                for script, args, _ in calls:
                    pipe.evalsha(script.sha, 0, *args)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as error:  # the connection: every call of the batch fails with it
            for _, _, reply in calls:
                _settle(reply, error=error)
            return
        for (script, args, reply), result in zip(calls, replies, strict=True):
            if isinstance(result, NoScriptError):
                # Redis lost its scripts (a restart): this one did not run, so running it
                # again is safe; redis-py's own call loads the script first.
                try:
                    result = await script(args=args)
                except Exception as error:
                    _settle(reply, error=error)
                    continue
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
