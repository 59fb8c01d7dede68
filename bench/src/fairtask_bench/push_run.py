"""One push server (the dispatcher, or the raw floor) under simulated gRPC workers who accept
and submit at once: first saturated, then at a set rate, then up a ladder of ordinary rates."""

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from fairtask_bench.client_process import ClientPlan, WorkerGroup, client_process
from fairtask_bench.feeder import Platform
from fairtask_bench.fleet import Fleet
from fairtask_bench.measure import (
    Ladder,
    Timing,
    Window,
    at_rate,
    latency_cap_per_s,
    latency_rate,
    saturated,
)
from fairtask_bench.servers import serving
from fairtask_bench.stack import BenchStack
from fairtask_bench.stats import latency_ms
from fairtask_bench.workload import task_type


@dataclass(frozen=True)
class PushLoad:
    clients: int  # load-generating processes
    workers: int  # gRPC workers, all working
    timing: Timing
    # Delays are measured at this rate, or at LATENCY_SHARE of the most sustained if less.
    rate_per_s: float
    ladder: Ladder
    profile_dir: Path | None = None


def shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` nearly equal whole shares."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def push_run(module: str, stack: BenchStack, load: PushLoad, log_dir: Path) -> dict[str, Any]:
    async with serving(module, stack.endpoints, log_dir, stack.root, load.profile_dir) as server:
        pid = server.pid
        run = uuid.uuid4().hex[:6]
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            platform = Platform(channel, server.platform, f"{module}-{run}")
            await platform.define_task_type(task_type())
            plans = [
                ClientPlan(
                    name=f"w{run}c{i}",
                    grpc_target=server.grpc_target,
                    ws_url=server.ws_url,
                    groups=(WorkerGroup("grpc", count, works=True),),
                )
                for i, count in enumerate(shares(load.workers, load.clients))
            ]
            fleet = await Fleet.start(client_process, plans, timeout_s=180)
            try:
                pacer = platform.pacer()
                watched = stack.watched(pid, fleet.pids)
                top = await saturated(fleet, pacer, watched, load.timing)
                rate = latency_rate(load.rate_per_s, top)
                steady = await at_rate(fleet, pacer, watched, load.timing, rate)
                cap = latency_cap_per_s(top)
                rates = sorted(load.ladder.rates_per_s)
                # Above the cap a window would measure the queue, not the server.
                ladder = [
                    (rung, await at_rate(fleet, pacer, watched, load.ladder.timing, rung))
                    for rung in rates
                    if rung <= cap
                ]
            finally:
                await fleet.stop()
        return {
            "workers": fleet.connected,
            "offers_per_second": top.offers_per_second,
            "saturated": window_report(top),
            "at_rate": {"rate_per_second": rate, **window_report(steady)},
            "ladder": [
                {"rate_per_second": rung, **window_report(window)} for rung, window in ladder
            ],
            "ladder_cap_per_second": round(cap, 1),
            "ladder_skipped_per_second": [rung for rung in rates if rung > cap],
            "submits_refused": dict(platform.refusals),
        }


def window_report(window: Window) -> dict[str, Any]:
    samples = window.samples
    return {
        "offers_per_second": window.offers_per_second,
        "offers_per_server_core": window.offers_per_server_core,
        "push_latency_ms": latency_ms(samples.push_s),
        "submit_to_offer_ms": latency_ms(samples.submit_to_offer_s),
        "cpu": window.cpu,
        "worker_errors": dict(samples.errors),
    }
