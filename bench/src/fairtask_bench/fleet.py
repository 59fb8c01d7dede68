"""The coordinator's handle on the load-generating processes."""

import asyncio
import multiprocessing
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol, TypeVar

from fairtask_bench.recorder import Samples


class Plan(Protocol):
    @property
    def name(self) -> str: ...


P = TypeVar("P", bound=Plan)
# A process's entry point: its plan, its end of the command pipe, and its offer counter.
Target = Callable[[P, Connection, Any], None]


class BenchError(RuntimeError):
    """The benchmark could not be carried out (a server or client failed)."""


def _receive(conn: Connection, timeout_s: float) -> Any:
    try:
        if conn.poll(timeout_s):
            return conn.recv()
    except (EOFError, OSError) as error:
        raise BenchError("a client process died") from error
    raise BenchError(f"no answer from a client process in {timeout_s:.0f} s")


class Fleet:
    """Client processes, each with its own event loop and share of the workers."""

    def __init__(self) -> None:
        self._procs: list[tuple[BaseProcess, Connection]] = []
        self._counters: list[Any] = []
        self.connected = 0

    @classmethod
    async def start(cls, target: Target[P], plans: Sequence[P], timeout_s: float) -> "Fleet":
        """A fleet of one `target` process per plan, each ready (every worker connected)."""
        fleet = cls()
        await fleet.add(target, plans, timeout_s)
        return fleet

    async def add(self, target: Target[P], plans: Sequence[P], timeout_s: float) -> None:
        """Spawns one `target` process per plan and waits until each says it is ready. Raises
        BenchError, after stopping the whole fleet, if any fails."""
        context = multiprocessing.get_context("spawn")
        started = []
        for plan in plans:
            parent, child = context.Pipe()
            counter = context.RawValue("q", 0)
            process = context.Process(
                target=target, args=(plan, child, counter), name=plan.name, daemon=True
            )
            process.start()
            self._procs.append((process, parent))
            self._counters.append(counter)
            started.append(parent)
        try:
            for conn in started:
                answer = await asyncio.to_thread(_receive, conn, timeout_s)
                if answer[0] != "ready":
                    raise BenchError(str(answer[1]))
                self.connected += int(answer[1])
        except BaseException:
            await self.stop()
            raise

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _ in self._procs if process.pid is not None]

    def offered(self) -> int:
        """Offers received so far by every worker of every process."""
        return sum(int(counter.value) for counter in self._counters)

    async def record(self) -> None:
        """Workers start keeping delays from now on (what they kept before is dropped)."""
        await self._ask("record")

    async def collect(self) -> Samples:
        """Stops recording and returns what every process kept."""
        merged = Samples()
        for answer in await self._ask("collect"):
            merged.extend(answer)
        return merged

    async def _ask(self, command: str) -> list[Any]:
        for _, conn in self._procs:
            conn.send(command)
        return [await asyncio.to_thread(_receive, conn, 60) for _, conn in self._procs]

    async def stop(self) -> None:
        for process, conn in self._procs:
            if process.is_alive():
                try:
                    conn.send("stop")
                    await asyncio.to_thread(_receive, conn, 30)
                except (BenchError, OSError, EOFError):
                    pass
            await asyncio.to_thread(process.join, 5)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)
        self._procs.clear()
