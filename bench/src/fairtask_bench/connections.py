"""Many connections held by one dispatcher process, gRPC streams and WebSockets half and half,
while some of them work; memory per connection from the process's resident size."""

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from fairtask_bench.client_process import ClientPlan, Transport, WorkerGroup, client_process
from fairtask_bench.feeder import Platform
from fairtask_bench.fleet import Fleet
from fairtask_bench.measure import Timing, at_rate, latency_rate, saturated
from fairtask_bench.procfs import rss_bytes
from fairtask_bench.push_run import shares, window_report
from fairtask_bench.servers import Served, serving
from fairtask_bench.stack import BenchStack
from fairtask_bench.workload import task_type

_SETTLE_S = 2.0  # for the allocator to settle before reading the resident size


@dataclass(frozen=True)
class ConnectionLoad:
    clients: int
    connections: int  # held in all
    working: int  # of which these accept and submit
    timing: Timing
    rate_per_s: float


async def connections_run(
    stack: BenchStack, load: ConnectionLoad, log_dir: Path, profile_dir: Path | None = None
) -> dict[str, Any]:
    async with serving("dispatcher", stack.endpoints, log_dir, stack.root, profile_dir) as server:
        pid = server.pid
        run = uuid.uuid4().hex[:6]
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            platform = Platform(channel, server.platform, f"held-{run}")
            await platform.define_task_type(task_type())
            await asyncio.sleep(_SETTLE_S)
            rss = {"before": rss_bytes(pid)}
            fleet = Fleet()
            try:
                # One transport after the other, so that each one's cost shows.
                for transport in ("grpc", "websocket"):
                    plans = _plans(load, transport, f"h{run}{transport[0]}", server)
                    await fleet.add(client_process, plans, timeout_s=600)
                    await asyncio.sleep(_SETTLE_S)
                    rss[transport] = rss_bytes(pid)
                pacer = platform.pacer()
                watched = stack.watched(pid, fleet.pids)
                top = await saturated(fleet, pacer, watched, load.timing)
                rate = latency_rate(load.rate_per_s, top)
                steady = await at_rate(fleet, pacer, watched, load.timing, rate)
                rss["after_work"] = rss_bytes(pid)
            finally:
                await fleet.stop()
    half = load.connections // 2
    kib = 1024
    return {
        "connections_held": fleet.connected,
        "working": load.working,
        "memory_per_connection_kib": round(
            (rss["websocket"] - rss["before"]) / fleet.connected / kib, 1
        ),
        "memory_per_grpc_stream_kib": round((rss["grpc"] - rss["before"]) / half / kib, 1),
        "memory_per_websocket_kib": round(
            (rss["websocket"] - rss["grpc"]) / (load.connections - half) / kib, 1
        ),
        "rss_mib": {name: round(value / kib / kib, 1) for name, value in rss.items()},
        "offers_per_second": top.offers_per_second,
        "saturated": window_report(top),
        "at_rate": {"rate_per_second": rate, **window_report(steady)},
    }


def _plans(
    load: ConnectionLoad, transport: Transport, name: str, server: Served
) -> list[ClientPlan]:
    """This transport's half of the connections and of the working ones, over the clients."""
    held = (
        load.connections // 2 if transport == "grpc" else load.connections - load.connections // 2
    )
    working = load.working // 2 if transport == "grpc" else load.working - load.working // 2
    return [
        ClientPlan(
            name=f"{name}{i}",
            grpc_target=server.grpc_target,
            ws_url=server.ws_url,
            groups=(
                WorkerGroup(transport, works, works=True),
                WorkerGroup(transport, idle, works=False),
            ),
        )
        for i, (works, idle) in enumerate(
            zip(shares(working, load.clients), shares(held - working, load.clients), strict=True)
        )
    ]
