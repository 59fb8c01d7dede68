"""PostgreSQL (Debian's server binaries) on a loopback port, run as `postgres` when we are root."""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import asyncpg

from fairtask_localstack.endpoints import DATABASE
from fairtask_localstack.ports import LOOPBACK
from fairtask_localstack.process import LogFile, PidFile, StackError, run_sync, terminate

# A Unix socket path may not exceed 107 bytes; beyond this the server listens on TCP only.
_MAX_SOCKET_DIR = 80


def pg_bin_dir() -> Path:
    """The newest installed server binaries: $FAIRTASK_PG_BIN, /usr/lib/postgresql/N/bin, PATH."""
    if override := os.environ.get("FAIRTASK_PG_BIN"):
        return Path(override)
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(re.sub(r"\D", "", p.parent.parent.name) or 0),
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path is None:
        raise StackError("PostgreSQL server binaries not found; run scripts/setup.sh")
    return Path(on_path).parent


class PostgresServer:
    """One cluster in `<data_dir>/postgres`, started with pg_ctl, database `fairtask` created.

    The server refuses to run as root, so as root every binary runs as the `postgres` system user
    via runuser, on a data directory it owns; its ancestors get o+x (traverse, not list).
    """

    name = "postgres"

    def __init__(self, data_dir: Path, fast: bool = False) -> None:
        self.dir = data_dir / "postgres"
        self.log_path = data_dir / "logs" / "postgres.log"
        self.pidfile = PidFile(data_dir / "pids" / "postgres.pid")
        self.fast = fast
        self._as_postgres = os.geteuid() == 0

    def _run(self, *argv: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        cmd = [str(pg_bin_dir() / argv[0]), *argv[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        # cwd: the postgres user may not be allowed into ours.
        return subprocess.run(
            cmd, cwd=self.dir, capture_output=True, text=True, timeout=timeout_s, check=False
        )

    def _prepare_dirs(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        if not self._as_postgres:
            return
        user = pwd.getpwnam("postgres")
        for path in (self.dir, self.log_path):
            os.chown(path, user.pw_uid, user.pw_gid)
        self.dir.chmod(0o700)
        self._make_traversable()

    def _make_traversable(self) -> None:
        # The postgres user must reach the data dir by its absolute path (pg_ctl reads
        # postmaster.pid through it). Something may have taken the bit away again since start
        # (pytest resets its private /tmp/pytest-of-USER to 0700 in every session).
        if not self._as_postgres:
            return
        for parent in self.dir.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)

    def _initdb(self) -> None:
        if (self.dir / "PG_VERSION").exists():
            return
        flags = ["--no-sync"] if self.fast else []
        done = self._run(
            "initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C", *flags,
            timeout_s=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise StackError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def _server_options(self, port: int) -> str:
        socket_dir = str(self.dir) if len(str(self.dir)) <= _MAX_SOCKET_DIR else ""
        options = [
            f"-p {port}",
            f"-k {shlex.quote(socket_dir)}",
            f"-c listen_addresses={LOOPBACK}",
            "-c max_connections=200",
            "-c shared_buffers=64MB",
        ]
        if self.fast:
            # Tests only: a crash may lose or corrupt data, which a throwaway cluster can afford.
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def start(self, port: int, timeout_s: float = 60.0) -> None:
        """initdb if needed, start the server, create database `fairtask`. Blocks until it answers.

        Raises StackError with the log's tail if the server does not come up within `timeout_s`.
        """
        self._prepare_dirs()
        self._initdb()
        if self._postmaster() is None:
            # Left by a killed server; a reused pid in it would make the new one refuse to start.
            (self.dir / "postmaster.pid").unlink(missing_ok=True)
            # So is the socket's lock file, which names the dead postmaster ("lock file
            # already exists"): found by make chaos, whose kill -9 left PostgreSQL down.
            for lock in self.dir.glob(".s.PGSQL.*.lock"):
                lock.unlink(missing_ok=True)
        log = LogFile(self.log_path)
        done = self._run(
            "pg_ctl", "-D", str(self.dir), "-o", self._server_options(port),
            "-l", str(self.log_path), "-w", "-t", str(int(timeout_s)), "start",
            timeout_s=timeout_s + 10,
        )  # fmt: skip
        if done.returncode != 0:
            self.stop()
            raise StackError(
                f"PostgreSQL did not start on {LOOPBACK}:{port} within {timeout_s:.0f} s "
                f"(pg_ctl: {done.stdout.strip()} {done.stderr.strip()}); "
                f"{self.log_path}:\n{log.tail()}",
                port_taken=log.port_taken(),
            )
        self.pidfile.write(int((self.dir / "postmaster.pid").read_text().split()[0]))
        try:
            run_sync(_create_database(port))
        except (OSError, asyncpg.PostgresError) as exc:
            self.stop()
            raise StackError(f"creating database {DATABASE} failed: {exc!r}") from exc

    @staticmethod
    def answers(port: int) -> bool:
        """True if `select 1` succeeds in database `fairtask`. Never raises."""
        return run_sync(_select_one(port))

    def running(self) -> bool:
        return self.pidfile.alive_pid() is not None

    def _postmaster(self) -> int | None:
        """The pid of a postmaster running on this data dir, even one our pid file missed."""
        if (pid := self.pidfile.alive_pid()) is not None:
            return pid
        try:
            pid = int((self.dir / "postmaster.pid").read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        # The postmaster keeps its command line (its children retitle themselves).
        return pid if os.fsencode(self.dir) + b"\0" in cmdline else None

    def stop(self, grace_s: float = 30.0) -> None:
        """`pg_ctl stop -m fast` (rolls back open transactions), else SIGKILL. Idempotent."""
        pid = self._postmaster()
        if pid is not None:
            self._make_traversable()
            done = self._run(
                "pg_ctl", "-D", str(self.dir), "stop", "-m", "fast", "-w", "-t", str(int(grace_s)),
                timeout_s=grace_s + 10,
            )  # fmt: skip
            if done.returncode != 0:
                terminate(pid, grace_s=0.0)
        self.pidfile.remove()


def _dsn(port: int, database: str) -> str:
    return f"postgresql://postgres@{LOOPBACK}:{port}/{database}"


async def _create_database(port: int) -> None:
    conn = await asyncpg.connect(_dsn(port, "postgres"), timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close(timeout=5)


async def _select_one(port: int) -> bool:
    try:
        conn = await asyncpg.connect(_dsn(port, DATABASE), timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    try:
        return bool(await conn.fetchval("SELECT 1", timeout=2) == 1)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    finally:
        await conn.close(timeout=2)
