"""Kafka, Redis and PostgreSQL started together in one data directory, and stopped together."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from fairtask_localstack.endpoints import Endpoints
from fairtask_localstack.kafka_server import KafkaServer, ensure_kafka_libs
from fairtask_localstack.ports import Ports, port_free
from fairtask_localstack.postgres_server import PostgresServer
from fairtask_localstack.process import (
    LogFile,
    PidFile,
    StackError,
    kill_hard,
    run_sync,
    spawn,
    terminate,
)
from fairtask_localstack.redis_server import RedisServer
from fairtask_localstack.topics import create_topics

_PORT_ATTEMPTS = 3


class _Server(Protocol):
    name: str

    def running(self) -> bool: ...
    def answers(self, port: int) -> bool: ...
    def stop(self) -> None: ...


def endpoint_ports(endpoints: Endpoints) -> tuple[int, int, int]:
    """(kafka, redis, postgres) ports of loopback endpoints."""
    kafka = int(endpoints.kafka_bootstrap.rpartition(":")[2])
    redis = urlsplit(endpoints.redis_url).port
    postgres = urlsplit(endpoints.postgres_dsn).port
    if redis is None or postgres is None:
        raise ValueError(f"endpoints without ports: {endpoints}")
    return kafka, redis, postgres


def endpoints_answer(endpoints: Endpoints) -> bool:
    """True if Kafka, Redis and PostgreSQL all answer at these endpoints. Never raises."""
    try:
        kafka, redis, postgres = endpoint_ports(endpoints)
    except ValueError:
        return False
    return (
        RedisServer.answers(redis)
        and PostgresServer.answers(postgres)
        and KafkaServer.answers(kafka)
    )


def throwaway_dir(prefix: str = "fairtask-stack-") -> Path:
    """A new private directory in the system temp dir, for a Stack(..., throwaway=True)."""
    return Path(tempfile.mkdtemp(prefix=prefix))


class Stack:
    """The local servers of one checkout (or one test session), all state under `data_dir`.

    `data_dir` holds kafka/, redis/, postgres/, logs/*.log, pids/*.pid and `env` (the endpoints
    as KEY=value lines). Pid files let another process stop the servers. `fast=True` turns
    durability off (fsync) for test stacks; `throwaway=True` deletes `data_dir` on stop().
    """

    def __init__(
        self,
        data_dir: Path,
        project_root: Path,
        *,
        fast: bool = False,
        throwaway: bool = False,
        timeout_s: float = 90.0,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.throwaway = throwaway
        self.project_root = project_root
        self.timeout_s = timeout_s
        self.kafka = KafkaServer(self.data_dir, project_root)
        self.redis = RedisServer(self.data_dir, fast=fast)
        self.postgres = PostgresServer(self.data_dir, fast=fast)
        self.env_file = self.data_dir / "env"
        self._watchdog = PidFile(self.data_dir / "pids" / "watchdog.pid")
        # Seconds each server took to answer in the last start(); empty if it reused a stack.
        self.startup_s: dict[str, float] = {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # One start or stop at a time per data dir, across processes.
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def start(self, ports: Ports | None = None, *, owner_pid: int | None = None) -> Endpoints:
        """Start all servers, create the topics, write `env`; return the endpoints. Blocks.

        Idempotent: a stack already running and answering in `data_dir` is reused as it is.
        Without `ports`, free ports are picked, and picked again (up to 3 times) if another
        process takes one first. With `owner_pid`, a watchdog stops the stack once that process
        is gone, so a killed test run leaves nothing behind. Raises StackError, naming the
        server and the tail of its log, if any server does not answer within `timeout_s`.
        """
        with self._locked():
            current = self.running_endpoints()
            if current is not None:
                self.startup_s = {}
                run_sync(create_topics(current.kafka_bootstrap))
                return current
            self._stop_servers()  # whatever is left of a crashed or partial run
            if owner_pid is not None:
                # Before the servers, so that even a start cut short by a kill is cleaned up.
                self._start_watchdog(owner_pid)
            ensure_kafka_libs(self.project_root)  # may take a while once, so not on the clock
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                chosen = ports or Ports.pick()
                try:
                    # Cheap to check, while a JVM finds out only ~10 s in that its port is gone.
                    if busy := [port for port in chosen.all() if not port_free(port)]:
                        raise StackError(f"ports already in use: {busy}", port_taken=True)
                    self._start_servers(chosen)
                    break
                except StackError as exc:
                    if not exc.port_taken or ports is not None or attempt == _PORT_ATTEMPTS:
                        raise
            endpoints = Endpoints.on_loopback(chosen.kafka, chosen.redis, chosen.postgres)
            endpoints.save(self.env_file)
            return endpoints

    def _start_servers(self, ports: Ports) -> None:
        began = time.monotonic()
        self.startup_s = {}

        def done(name: str) -> None:
            self.startup_s[name] = round(time.monotonic() - began, 2)

        def kafka() -> None:
            self.kafka.start(ports.kafka, ports.kafka_controller, self.timeout_s)
            done("kafka")
            run_sync(create_topics(f"127.0.0.1:{ports.kafka}", timeout_s=self.timeout_s))
            done("topics")

        def redis() -> None:
            self.redis.start(ports.redis, self.timeout_s)
            done("redis")

        def postgres() -> None:
            self.postgres.start(ports.postgres, self.timeout_s)
            done("postgres")

        jobs: dict[str, Callable[[], None]] = {"kafka": kafka, "redis": redis, "postgres": postgres}
        errors: list[StackError] = []

        def run(name: str) -> None:
            try:
                jobs[name]()
            except StackError as exc:
                errors.append(exc)
            except Exception as exc:  # a bug or an odd machine: report it like a server failure
                errors.append(StackError(f"{name}: {exc!r}"))

        # Kafka's JVM start dominates; Redis and PostgreSQL come up in its shadow.
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            list(pool.map(run, jobs))
        if errors:
            self._stop_servers()
            raise StackError(
                "\n\n".join(str(e) for e in errors), port_taken=any(e.port_taken for e in errors)
            )

    def _start_watchdog(self, owner_pid: int) -> None:
        self._stop_watchdog()
        argv = [sys.executable, "-m", "fairtask_localstack.watchdog", str(owner_pid),
                str(self.data_dir), str(self.project_root),
                "throwaway" if self.throwaway else "keep"]  # fmt: skip
        log = LogFile(self.data_dir / "logs" / "watchdog.log")
        proc = spawn(argv, log, cwd=self.data_dir, env=os.environ)
        self._watchdog.write(proc.pid)

    def running_endpoints(self) -> Endpoints | None:
        """The endpoints if this stack's servers run and answer, else None. Never raises."""
        try:
            endpoints = Endpoints.load(self.env_file)
        except (OSError, KeyError):
            return None
        servers = (self.kafka.running(), self.redis.running(), self.postgres.running())
        if all(servers) and endpoints_answer(endpoints):
            return endpoints
        return None

    def status(self) -> dict[str, str]:
        """Each server -> "answering", "running" (but not answering) or "stopped"."""
        try:
            ports: tuple[int, ...] = endpoint_ports(Endpoints.load(self.env_file))
        except (OSError, KeyError, ValueError):
            ports = ()
        servers: tuple[_Server, ...] = (self.kafka, self.redis, self.postgres)
        result: dict[str, str] = {}
        for index, server in enumerate(servers):
            if not server.running():
                result[server.name] = "stopped"
            elif ports and server.answers(ports[index]):
                result[server.name] = "answering"
            else:
                result[server.name] = "running"
        return result

    def stop(self) -> None:
        """Stop every server of this data dir, whoever started them. Blocks; idempotent.

        With `throwaway`, the data dir is deleted too (after the servers stopped).
        """
        if not self.data_dir.exists():
            return
        with self._locked():
            self._stop_watchdog()
            self._stop_servers()
            self.env_file.unlink(missing_ok=True)
        if self.throwaway:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self, server: str) -> None:
        """kill -9 of one server ("kafka", "redis" or "postgres"), for fault injection."""
        entry = self._server(server).pidfile.read()
        if entry is not None:
            kill_hard(*entry)

    def revive(self, server: str, endpoints: Endpoints) -> None:
        """Starts a killed server again on its ports, on the data it left. Blocks until it
        answers; raises StackError if it does not."""
        _, redis, postgres = endpoint_ports(endpoints)
        if server == "kafka":
            self.kafka.restart(self.timeout_s)
        elif server == "redis":
            self.redis.start(redis, self.timeout_s)
        else:
            self.postgres.start(postgres, self.timeout_s)

    def _server(self, name: str) -> KafkaServer | RedisServer | PostgresServer:
        servers: dict[str, KafkaServer | RedisServer | PostgresServer] = {
            "kafka": self.kafka,
            "redis": self.redis,
            "postgres": self.postgres,
        }
        if name not in servers:
            raise ValueError(f"no server {name!r}; one of {sorted(servers)}")
        return servers[name]

    def _stop_watchdog(self) -> None:
        entry = self._watchdog.read()
        if entry is not None and entry[0] != os.getpid():  # the watchdog may be who calls stop()
            terminate(*entry, grace_s=2.0)
        self._watchdog.remove()

    def _stop_servers(self) -> None:
        # In parallel: Kafka's controlled shutdown alone takes a few seconds.
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [pool.submit(s.stop) for s in (self.kafka, self.redis, self.postgres)]
        errors = [str(f.exception()) for f in futures if f.exception() is not None]
        if errors:
            raise StackError("stopping the stack failed: " + "; ".join(errors))
