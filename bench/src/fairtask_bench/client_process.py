"""One load-generating process: registers and connects its share of simulated workers, then
obeys the coordinator (record, collect, stop) over a pipe.

Several of these run at once so that the load generator is not what limits the dispatcher.
"""

import asyncio
import gc
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

import grpc

from fairtask.v1 import dispatcher_pb2_grpc as dg
from fairtask_bench.protocol import obey
from fairtask_bench.recorder import Recorder
from fairtask_bench.worker_sim import GrpcWorker, WsWorker, register
from fairtask_bench.workload import ALL_DAY, IDLE_SKILL, REGIONS, WORK_SKILL

Transport = Literal["grpc", "websocket"]
_CONNECTING = 64  # registrations and handshakes in flight per process


@dataclass(frozen=True)
class WorkerGroup:
    transport: Transport
    count: int
    works: bool


@dataclass(frozen=True)
class ClientPlan:
    name: str  # prefix of this process's worker ids, unique in the run
    grpc_target: str
    ws_url: str
    groups: tuple[WorkerGroup, ...]
    # Streams share a channel (one HTTP/2 connection) this many at a time.
    streams_per_channel: int = 100


def client_process(plan: ClientPlan, conn: Connection, counter: Any) -> None:
    """The process's entry point (spawned by Fleet)."""
    asyncio.run(_serve(plan, conn, counter))


async def _serve(plan: ClientPlan, conn: Connection, counter: Any) -> None:
    workers = _Workers(plan)
    try:
        try:
            await workers.open()
        except Exception as error:
            conn.send(("failed", f"{plan.name}: {error!r}"))
            return
        # Connections are long-lived objects: keep the collector from walking them on every pass.
        gc.freeze()
        await obey(conn, Recorder(counter), workers.runners)
    finally:
        await workers.close()
    conn.send("stopped")


class _Workers:
    def __init__(self, plan: ClientPlan) -> None:
        self._plan = plan
        self._channels: list[grpc.aio.Channel] = []
        self._grpc: list[GrpcWorker] = []
        self._ws: list[WsWorker] = []
        self.runners: list[Callable[[Recorder], Coroutine[Any, Any, None]]] = []

    async def open(self) -> None:
        plan = self._plan
        grpc_count = sum(g.count for g in plan.groups if g.transport == "grpc")
        channels = max(1, -(-grpc_count // plan.streams_per_channel))
        # A local subchannel pool each, or grpc would put every channel on one connection.
        options = [("grpc.use_local_subchannel_pool", 1)]
        self._channels = [
            grpc.aio.insecure_channel(plan.grpc_target, options=options) for _ in range(channels)
        ]
        gate = asyncio.Semaphore(_CONNECTING)
        jobs = []
        index = 0
        for group in plan.groups:
            for _ in range(group.count):
                jobs.append(self._open_one(group, index, gate))
                index += 1
        await asyncio.gather(*jobs)

    async def _open_one(self, group: WorkerGroup, index: int, gate: asyncio.Semaphore) -> None:
        plan = self._plan
        async with gate:
            stub = dg.WorkerServiceStub(self._channels[index % len(self._channels)])
            skill = WORK_SKILL if group.works else IDLE_SKILL
            region = REGIONS[index % len(REGIONS)]
            token = await register(stub, f"{plan.name}-{index}", region, skill, list(ALL_DAY))
            if group.transport == "grpc":
                stream = await GrpcWorker.open(stub, token)
                self._grpc.append(stream)
                self.runners.append(stream.run)
            else:
                socket = await WsWorker.open(plan.ws_url, token)
                self._ws.append(socket)
                self.runners.append(socket.run)

    async def close(self) -> None:
        for worker in self._grpc:
            worker.close()
        await asyncio.gather(*(w.close() for w in self._ws), return_exceptions=True)
        for channel in self._channels:
            await channel.close()
