"""The servers under test, each its own process on the local stack: the dispatcher exactly as
`make run` starts it, and the raw pipeline floor."""

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as redis

from fairtask_bench.workload import PLATFORM
from fairtask_demo.supervisor import ServiceProcess, service_env
from fairtask_localstack.endpoints import Endpoints
from fairtask_localstack.ports import free_ports
from fairtask_localstack.topics import create_topics, delete_topics, topic_names
from fairtask_runtime.api_keys import RedisPlatformKeys
from fairtask_runtime.grpc.identity import Metadata, bearer

# Every replica of a real deployment shares one; this run's processes share this one.
TOKEN_SECRET = "benchmark-token-secret-of-at-least-32-characters"
_STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class Served:
    process: ServiceProcess
    pid: int
    # Call metadata with an API key of the benchmark's platform.
    platform: Metadata

    @property
    def grpc_target(self) -> str:
        return self.process.grpc_target

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.process.http_port}/v1/worker/ws"


@asynccontextmanager
async def serving(
    module: str, endpoints: Endpoints, log_dir: Path, root: Path, profile_dir: Path | None = None
) -> AsyncIterator[Served]:
    """Runs `python -m <module>` (a service's entry point) on topics and Redis keys of its own,
    until the block ends; yields it once it answers gRPC health. With `profile_dir`, py-spy
    samples it the whole time into collapsed stacks there
    (<module>.txt, for speedscope or flamegraph.pl)."""
    run = uuid.uuid4().hex[:8]
    keys_prefix = f"bench{run}:platform-keys:"
    prefix = f"bench{run}."
    await create_topics(endpoints.kafka_bootstrap, prefix)
    grpc_port, http_port = free_ports(2)
    server = ServiceProcess(module, grpc_port, http_port, log_dir / f"{module}.log")
    env = service_env(endpoints.to_env(), server, prefix) | {
        "FAIRTASK_REDIS_PREFIX": f"bench{run}:",
        "FAIRTASK_PLATFORM_KEYS_PREFIX": keys_prefix,
        "FAIRTASK_WORKER_TOKEN_SECRET": TOKEN_SECRET,
        "FAIRTASK_LOG_LEVEL": "WARNING",
        "FAIRTASK_SHUTDOWN_GRACE_S": "3",
        # The load's workers are programs taking hundreds of tasks a second each, and its one
        # platform submits as fast as they take; the limits that guard people's connections
        # would measure themselves instead of the dispatcher.
        "FAIRTASK_WORKER_RATE_LIMIT": "100000/second",
        "FAIRTASK_PLATFORM_RATE_LIMIT": "100000/second",
    }
    server.start(env, root)
    pid = _pid_of(server)
    profiler = _profile(pid, profile_dir / f"{module}.txt") if profile_dir else None
    try:
        await server.wait_healthy(60)
        yield Served(server, pid, await _platform_key(endpoints.redis_url, keys_prefix))
    finally:
        await server.stop(_STOP_GRACE_S)
        if profiler is not None:
            await asyncio.to_thread(profiler.wait, 30)
        await delete_topics(endpoints.kafka_bootstrap, topic_names(prefix))


def _profile(pid: int, out: Path) -> subprocess.Popen[bytes]:
    out.parent.mkdir(parents=True, exist_ok=True)
    # Stops by itself when the server exits; --nonblocking keeps it from pausing the server.
    argv = ["py-spy", "record", "--pid", str(pid), "--output", str(out), "--format", "raw"]
    argv.append("--nonblocking")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _pid_of(server: ServiceProcess) -> int:
    if server.process is None:
        raise RuntimeError(f"{server.name} is not running")
    return server.process.pid


async def _platform_key(redis_url: str, prefix: str) -> Metadata:
    """An API key of the benchmark's platform, issued as an operator would (the raw floor
    ignores it)."""
    client = redis.from_url(redis_url)
    try:
        issued = await RedisPlatformKeys(client, prefix).issue(PLATFORM, "benchmark")
    finally:
        await client.aclose()
    return bearer(issued.key)
