"""Redis as a child process on a loopback port, with its data in one directory."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from fairtask_localstack.ports import LOOPBACK
from fairtask_localstack.process import LogFile, PidFile, StackError, spawn, terminate


class RedisServer:
    """One `redis-server`, its data under `<data_dir>/redis`, its log in `<data_dir>/logs`."""

    name = "redis"

    def __init__(self, data_dir: Path, fast: bool = False) -> None:
        self.dir = data_dir / "redis"
        self.log_path = data_dir / "logs" / "redis.log"
        self.pidfile = PidFile(data_dir / "pids" / "redis.pid")
        self.fast = fast

    def start(self, port: int, timeout_s: float = 30.0) -> None:
        """Spawn redis-server and block until it answers PING.

        Raises StackError (with the log's tail) if it exits or does not answer within `timeout_s`.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError("redis-server not found; run scripts/setup.sh")
        self.dir.mkdir(parents=True, exist_ok=True)
        log = LogFile(self.log_path)
        argv = [
            binary,
            "--port", str(port),
            "--bind", LOOPBACK,
            "--dir", str(self.dir),
            "--appendonly", "yes",
            # Every write lands in the append-only file, fsynced before Redis answers: a write
            # the dispatcher was told is done survives kill -9 (with "everysec", the last
            # second of accepted tasks and leases could vanish). Tests trade that for speed.
            "--appendfsync", "no" if self.fast else "always",
            "--save", "",
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip
        proc = spawn(argv, log, cwd=self.dir)
        self.pidfile.write(proc.pid)
        deadline = time.monotonic() + timeout_s
        while True:
            # Exit first: while our server is down, someone else may hold the port and hang PING.
            if proc.poll() is not None:
                raise StackError(
                    f"redis-server exited with {proc.returncode}; {self.log_path}:\n{log.tail()}",
                    port_taken=log.port_taken(),
                )
            # Another checkout's Redis might answer on a port we lost the race for; check the pid.
            if self.answers(port, pid=proc.pid):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(
                    f"redis did not answer PING on {LOOPBACK}:{port} within {timeout_s:.0f} s; "
                    f"{self.log_path}:\n{log.tail()}"
                )
            time.sleep(0.05)

    @staticmethod
    def answers(port: int, pid: int | None = None) -> bool:
        """True if PING on the port gets PONG (from process `pid`, if given). Never raises."""
        client = redis.Redis(
            host=LOOPBACK,
            port=port,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), retries=0),  # the caller polls; one attempt per call
        )
        try:
            if pid is None:
                return bool(client.ping())
            return bool(client.info("server").get("process_id") == pid)
        except redis.RedisError:
            return False
        finally:
            client.close()

    def running(self) -> bool:
        return self.pidfile.alive_pid() is not None

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM (redis flushes its append-only file and exits), then SIGKILL. Idempotent."""
        entry = self.pidfile.read()
        if entry is not None:
            terminate(*entry, grace_s=grace_s)
        self.pidfile.remove()
