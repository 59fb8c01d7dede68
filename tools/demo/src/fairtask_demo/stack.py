"""The local Kafka, Redis and PostgreSQL, through fairtask_localstack: reuse or start, then stop
only what this run started."""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from fairtask_localstack.endpoints import Endpoints
from fairtask_localstack.kafka_server import find_project_root
from fairtask_localstack.process import StackError
from fairtask_localstack.stack import Stack

__all__ = ["LocalStack", "StackError", "project_root"]


def project_root() -> Path:
    """The checkout: found from the working directory, else from where this package lives."""
    try:
        return find_project_root(Path.cwd())
    except StackError:
        return find_project_root(Path(__file__).parent)


@dataclass
class LocalStack:
    data_dir: Path
    root: Path
    started_here: bool = False
    endpoints: Endpoints | None = None

    async def start(self) -> Endpoints:
        """Reuses a stack running in `data_dir`, else starts one. Raises StackError."""
        # A watchdog stops a stack we started if this process is killed before stopping it.
        stack = Stack(self.data_dir, self.root)
        self.endpoints = await asyncio.to_thread(stack.start, owner_pid=os.getpid())
        # startup_s is filled only when servers were started, and empty on reuse.
        self.started_here = bool(stack.startup_s)
        return self.endpoints

    async def stop(self) -> None:
        """Stops the servers only if this run started them; someone else's stack stays up."""
        if self.started_here:
            await asyncio.to_thread(Stack(self.data_dir, self.root).stop)
            self.started_here = False
