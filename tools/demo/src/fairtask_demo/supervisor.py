"""The three services as child processes: start, wait for gRPC health, watch, stop."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fairtask_localstack.ports import free_ports

LOOPBACK = "127.0.0.1"
SERVICES = ("dispatcher", "scoring", "payroll")


class ServiceError(RuntimeError):
    """A service did not come up, or died while the demo ran."""


def tail(path: Path, offset: int = 0, lines: int = 25, width: int = 300) -> str:
    """The last `lines` lines written after byte `offset`, each cut to `width` characters."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(offset, size - 64_000))
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join(ln if len(ln) <= width else ln[:width] + " ..." for ln in kept) or "(empty)"


@dataclass
class ServiceProcess:
    name: str
    grpc_port: int
    http_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    # Where this run's output starts in the (appended) log file.
    log_offset: int = 0

    @property
    def grpc_target(self) -> str:
        return f"{LOOPBACK}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}/metrics"

    def start(self, env: Mapping[str, str], cwd: Path) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} demo start ---\n".encode())
            log.flush()
            self.log_offset = log.tell()
            # A new session: the terminal's Ctrl-C reaches only the demo, which then stops the
            # services in order after draining, instead of every process dying at once.
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.name],
                cwd=cwd,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exit_code(self) -> int | None:
        """None while running (or never started)."""
        return None if self.process is None else self.process.poll()

    async def wait_healthy(self, timeout_s: float) -> None:
        """Polls grpc.health.v1 Check until SERVING. Raises ServiceError with the log's tail."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with grpc.aio.insecure_channel(self.grpc_target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                code = self.exit_code()
                if code is not None:
                    raise ServiceError(self._failure(f"exited with code {code} while starting"))
                with contextlib.suppress(grpc.aio.AioRpcError):
                    answer = await stub.Check(
                        health_pb2.HealthCheckRequest(service=""), timeout=1.0
                    )
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                if loop.time() > deadline:
                    raise ServiceError(self._failure(f"not SERVING after {timeout_s:.0f} s"))
                await asyncio.sleep(0.25)

    def log_tail(self) -> str:
        return f"last lines of {self.log_path}:\n{tail(self.log_path, self.log_offset)}"

    def _failure(self, what: str) -> str:
        return f"{self.name} {what}; {self.log_tail()}"

    def died(self) -> str | None:
        """A one-line reason if the process has exited, else None."""
        code = self.exit_code()
        return None if code is None else f"{self.name} died with exit code {code}"

    async def stop(self, grace_s: float) -> None:
        """SIGTERM, wait up to `grace_s` for the service's own graceful stop, then SIGKILL."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, grace_s)
        except subprocess.TimeoutExpired:
            signal_group(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait, 5.0)


def signal_group(pid: int, sig: signal.Signals) -> None:
    # The service leads its own process group, so this reaches anything it spawned too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def plan(log_dir: Path) -> list[ServiceProcess]:
    ports = free_ports(2 * len(SERVICES))
    return [
        ServiceProcess(name, ports[2 * i], ports[2 * i + 1], log_dir / f"{name}.log")
        for i, name in enumerate(SERVICES)
    ]


def service_env(
    stack_env: Mapping[str, str], service: ServiceProcess, topic_prefix: str
) -> dict[str, str]:
    return {
        **stack_env,
        "FAIRTASK_GRPC_PORT": str(service.grpc_port),
        "FAIRTASK_HTTP_PORT": str(service.http_port),
        "FAIRTASK_TOPIC_PREFIX": topic_prefix,
        "FAIRTASK_HOST": LOOPBACK,
    }


def dispatcher_peers_env(services: list[ServiceProcess], dispatcher_key: str) -> dict[str, str]:
    """What the dispatcher needs of the other services: payroll's address and an operator key
    (issued by the caller in the stack's key store) to hold each task's price in escrow, and
    scoring's address for the worker page's reviews."""
    target = {s.name: s.grpc_target for s in services}
    return {
        "FAIRTASK_PAYROLL_TARGET": target["payroll"],
        "FAIRTASK_PAYROLL_API_KEY": dispatcher_key,
        "FAIRTASK_SCORING_TARGET": target["scoring"],
    }
