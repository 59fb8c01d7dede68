"""The two measurements every server gets: the most it sustains, and delays at a set rate."""

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fairtask_bench.fleet import BenchError, Fleet
from fairtask_bench.pacer import Pacer
from fairtask_bench.procfs import CpuWindow
from fairtask_bench.recorder import Samples

# Delays are measured at a load the server carries with room to spare, not at its limit.
LATENCY_SHARE = 0.5


def latency_cap_per_s(sustained: "Window") -> float:
    """The highest rate whose delays are the server's rather than its queue's."""
    return LATENCY_SHARE * sustained.offers_per_second


def latency_rate(wanted_per_s: float, sustained: "Window") -> float:
    """`wanted_per_s`, or LATENCY_SHARE of what the server sustained if that is lower."""
    return round(min(wanted_per_s, latency_cap_per_s(sustained)), -1)


@dataclass(frozen=True)
class Timing:
    warmup_s: float
    window_s: float
    backlog: int  # tasks kept waiting ahead of the workers when saturating
    settle_s: float = 60.0


@dataclass(frozen=True)
class Ladder:
    """Delays at a few ordinary loads as well, each in a window of its own: near saturation
    they are mostly queueing behind the server's CPU, and say little about a quiet day."""

    rates_per_s: tuple[float, ...]
    timing: Timing


@dataclass
class Window:
    offers_per_second: float
    samples: Samples
    cpu: dict[str, float]

    @property
    def offers_per_server_core(self) -> float:
        """Offers per second of the server's own CPU time: what an offer costs it, whatever
        else the machine was doing meanwhile."""
        cores = self.cpu.get("server_cores", 0.0)
        return round(self.offers_per_second / cores, 1) if cores > 0 else 0.0


async def saturated(
    fleet: Fleet, pacer: Pacer, watched: Mapping[str, list[int]], timing: Timing
) -> Window:
    """Work is kept waiting ahead of the workers: offers per second is what the server
    sustains (its delays then include queueing, and are reported only for context)."""
    stop = asyncio.Event()
    return await _window(
        fleet,
        pacer,
        watched,
        timing,
        pacer.keep_ahead(fleet.offered, timing.backlog, stop),
        stop,
    )


async def at_rate(
    fleet: Fleet, pacer: Pacer, watched: Mapping[str, list[int]], timing: Timing, rate_per_s: float
) -> Window:
    """Work arrives at `rate_per_s`: the delays a worker sees at that load."""
    stop = asyncio.Event()
    return await _window(fleet, pacer, watched, timing, pacer.paced(rate_per_s, stop), stop)


async def _window(
    fleet: Fleet,
    pacer: Pacer,
    watched: Mapping[str, list[int]],
    timing: Timing,
    feeding: Any,
    stop: asyncio.Event,
) -> Window:
    feeder = asyncio.create_task(feeding)
    try:
        await asyncio.sleep(timing.warmup_s)
        await fleet.record()
        # PostgreSQL runs a process per connection.
        cpu = CpuWindow(watched, trees=["server", "postgres"])
        began, first = time.monotonic(), fleet.offered()
        await asyncio.sleep(timing.window_s)
        wall_s, count = time.monotonic() - began, fleet.offered() - first
        used = cpu.finish(wall_s)
        samples = await fleet.collect()
    finally:
        stop.set()
        await feeder
        await pacer.drain()
    await settled(fleet.offered, pacer, timing.settle_s)
    return Window(round(count / wall_s, 1), samples, used)


async def settled(taken: Callable[[], int], pacer: Pacer, timeout_s: float) -> None:
    """Waits until every submitted task has reached a worker, so the next measurement starts
    from an empty queue. Raises BenchError if tasks went missing."""
    deadline = time.monotonic() + timeout_s
    while taken() < pacer.submitted:
        if time.monotonic() > deadline:
            raise BenchError(
                f"{pacer.submitted - taken()} of {pacer.submitted} tasks never reached a worker"
            )
        await asyncio.sleep(0.05)
