"""Faults injected one at a time, at seeded random moments, each followed by a wait until
everything answers again (its recovery time).

Kinds: kill -9 and restart of each service and of Kafka, Redis (append-only file on) and
PostgreSQL; SIGSTOP of a service for longer than its heartbeats, then SIGCONT; a busy worker's
connection cut in the middle of a task.
"""

import asyncio
import random
import signal
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fairtask_demo.load.workers import WorkerSim
from fairtask_demo.supervisor import ServiceError, ServiceProcess, signal_group
from fairtask_localstack.endpoints import Endpoints
from fairtask_localstack.process import StackError
from fairtask_localstack.stack import Stack

SERVERS = ("kafka", "redis", "postgres")
_RECOVERY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ChaosPlan:
    seed: int = 7
    # Mean seconds between the end of one fault's recovery and the next fault.
    every_s: float = 8.0
    # Longer than a replica's heartbeat TTL and the consumer session timeout (10 s each).
    pause_s: float = 14.0
    # How long a killed server stays down before it is started again.
    down_s: float = 1.0


@dataclass(frozen=True)
class Fault:
    kind: str
    at_s: float  # since the load began
    # From the fault (less any deliberate outage: a pause, a server kept down) until every
    # service answers health checks; None if that did not happen within the timeout.
    recovery_s: float | None
    # From the fault until workers completed a task again; None if they did not in time.
    work_resumed_s: float | None
    detail: str = ""


def fault_kinds(services: Sequence[str]) -> list[str]:
    return [
        *(f"kill_{s}" for s in services),
        *(f"kill_{s}" for s in SERVERS),
        *(f"pause_{s}" for s in services),
        "cut_worker_connection",
    ]


@dataclass
class Faults:
    """What the injector needs to reach: the services (and how to start them again), the
    stack's servers, and the load's workers."""

    plan: ChaosPlan
    services: Sequence[ServiceProcess]
    envs: Mapping[str, Mapping[str, str]]
    cwd: Path
    stack: Stack
    endpoints: Endpoints
    say: Callable[[str], None] = print
    injected: list[Fault] = field(default_factory=list)
    # Services that exited without being killed by us, and were started again.
    unexpected_exits: list[str] = field(default_factory=list)
    _killing: set[str] = field(default_factory=set)

    async def inject(self, workers: Sequence[WorkerSim], stop: asyncio.Event) -> None:
        """Injects faults until `stop` is set; returns once the last one has recovered."""
        plan = self.plan
        rng = random.Random(f"{plan.seed}:chaos")
        loop = asyncio.get_running_loop()
        began = loop.time()
        kinds: list[str] = []
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), plan.every_s * rng.uniform(0.5, 1.5))
                return
            except TimeoutError:
                pass
            if not kinds:
                # Every kind once per round, in a seeded order: a short run still sees each.
                kinds = fault_kinds([s.name for s in self.services])
                rng.shuffle(kinds)
            kind = kinds.pop()
            at = loop.time()
            completed = _completed(workers)
            try:
                detail, outage_s = await self._inject(kind, plan, rng, workers)
            except Exception as error:  # a fault that could not be undone is a finding
                self.injected.append(Fault(kind, round(at - began, 2), None, None, repr(error)))
                self.say(f"  chaos: {kind} at {at - began:.0f} s did NOT recover: {error!r}")
                continue
            healthy = await self._healthy()
            recovery_s = None if not healthy else round(loop.time() - at - outage_s, 2)
            resumed = await _work_resumed(workers, completed, stop)
            resumed_s = None if not resumed else round(loop.time() - at, 2)
            self.injected.append(Fault(kind, round(at - began, 2), recovery_s, resumed_s, detail))
            took = "did NOT recover" if recovery_s is None else f"recovered in {recovery_s:.1f} s"
            self.say(f"  chaos: {kind} {detail} at {at - began:.0f} s; {took}")

    async def guard(self) -> None:
        """Starts again any service that exits on its own, and notes it."""
        while True:
            for service in self.services:
                if service.name not in self._killing and (reason := service.died()):
                    self.unexpected_exits.append(reason)
                    self.say(f"  chaos: {reason} (not injected); starting it again")
                    service.start(self.envs[service.name], self.cwd)
            await asyncio.sleep(0.5)

    async def _inject(
        self, kind: str, plan: ChaosPlan, rng: random.Random, workers: Sequence[WorkerSim]
    ) -> tuple[str, float]:
        """Injects one fault; returns what it hit and how long it was kept down on purpose."""
        action, _, target = kind.partition("_")
        if kind == "cut_worker_connection":
            busy = [w for w in workers if w.busy] or list(workers)
            worker = rng.choice(busy)
            worker.cut_power(rng.uniform(2.0, 5.0))
            return worker.tally.profile.worker_id, 0.0
        if target in SERVERS:
            await asyncio.to_thread(self.stack.kill, target)
            await asyncio.sleep(plan.down_s)
            await self._revive(target)
            return "", plan.down_s
        service = next(s for s in self.services if s.name == target)
        assert service.process is not None
        if action == "kill":
            self._killing.add(service.name)
            try:
                signal_group(service.process.pid, signal.SIGKILL)
                await asyncio.to_thread(service.process.wait, 10)
                service.start(self.envs[service.name], self.cwd)
            finally:
                self._killing.discard(service.name)
            return f"pid {service.process.pid}", 0.0
        signal_group(service.process.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(plan.pause_s)
        finally:
            signal_group(service.process.pid, signal.SIGCONT)
        return f"for {plan.pause_s:.0f} s", plan.pause_s

    async def _revive(self, server: str, attempts: int = 3) -> None:
        """Starts a killed server again, as its supervisor would, retrying a failed start."""
        for attempt in range(1, attempts + 1):
            try:
                await asyncio.to_thread(self.stack.revive, server, self.endpoints)
                return
            except StackError as error:
                if attempt == attempts:
                    raise
                self.say(f"  chaos: restarting {server} failed, retrying: {error}")
                await asyncio.sleep(1.0)

    async def _healthy(self) -> bool:
        try:
            await asyncio.gather(*(s.wait_healthy(_RECOVERY_TIMEOUT_S) for s in self.services))
        except ServiceError as error:
            self.say(f"  chaos: {error}")
            return False
        return True


def _completed(workers: Sequence[WorkerSim]) -> int:
    return sum(w.tally.completed for w in workers)


async def _work_resumed(workers: Sequence[WorkerSim], before: int, stop: asyncio.Event) -> bool:
    """Waits until the workers complete a task more than `before`; False after the timeout or
    once the load has stopped submitting (nothing more may come)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _RECOVERY_TIMEOUT_S
    while _completed(workers) <= before:
        if loop.time() > deadline or stop.is_set():
            return False
        await asyncio.sleep(0.1)
    return True


def count_by_kind(faults: Sequence[Fault]) -> dict[str, int]:
    return dict(sorted(Counter(fault.kind for fault in faults).items()))
