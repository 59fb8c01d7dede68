"""The local Kafka, Redis and PostgreSQL the benchmark runs on: started (or reused) through
fairtask_localstack as `make run` does, or an already running one named by its env file."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fairtask_demo.stack import LocalStack, project_root
from fairtask_localstack.endpoints import Endpoints
from fairtask_localstack.process import PidFile

_SERVERS = ("kafka", "redis", "postgres")


@dataclass(frozen=True)
class BenchStack:
    endpoints: Endpoints
    root: Path  # the checkout, where services are started from
    # The servers' processes, when known, so their CPU use can be reported.
    pids: dict[str, list[int]] = field(default_factory=dict)

    def watched(self, server_pid: int | None, client_pids: list[int]) -> dict[str, list[int]]:
        """The process groups whose CPU use a measurement reports (no server of its own: the
        poll baseline's server is PostgreSQL)."""
        return {
            "server": [] if server_pid is None else [server_pid],
            "clients": client_pids,
            "coordinator": [os.getpid()],
            **self.pids,
        }


def _server_pids(data_dir: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for name in _SERVERS:
        pid = PidFile(data_dir / "pids" / f"{name}.pid").alive_pid()
        if pid is not None:
            found[name] = [pid]
    return found


@asynccontextmanager
async def bench_stack(stack_dir: Path, env_file: Path | None) -> AsyncIterator[BenchStack]:
    """With `env_file`, the running stack it names (left running); otherwise the stack in
    `stack_dir`, reused if it runs, else started and stopped again at the end. Raises
    StackError if a server does not come up."""
    root = project_root()
    if env_file is not None:
        yield BenchStack(Endpoints.load(env_file), root, _server_pids(env_file.parent))
        return
    local = LocalStack(root / stack_dir, root)
    endpoints = await local.start()
    try:
        yield BenchStack(endpoints, root, _server_pids(local.data_dir))
    finally:
        await local.stop()
