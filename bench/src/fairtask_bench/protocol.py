"""How a load-generating process obeys the coordinator: `record` (keep delays from now on),
`collect` (stop keeping them and send them), anything else stops it."""

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from multiprocessing.connection import Connection
from typing import Any

from fairtask_bench.recorder import Recorder


async def obey(
    conn: Connection,
    recorder: Recorder,
    loops: Sequence[Callable[[Recorder], Coroutine[Any, Any, None]]],
) -> None:
    """Runs `loops` (one per simulated worker), says "ready", and answers commands until told
    to stop; then cancels the loops. The caller closes connections and sends "stopped"."""
    running = [asyncio.create_task(loop(recorder)) for loop in loops]
    conn.send(("ready", len(running)))
    try:
        while True:
            command = await asyncio.to_thread(conn.recv)
            if command == "record":
                recorder.take()
                recorder.recording = True
                conn.send("ok")
            elif command == "collect":
                recorder.recording = False
                conn.send(recorder.take())
            else:
                return
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
