"""Detached server processes: spawn, pid files that survive us, and stopping them for good."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class StackError(RuntimeError):
    """A local server could not be started, did not answer in time, or could not be stopped.

    `port_taken` is set when another process bound one of the server's ports first, so the
    caller may retry on fresh ports.
    """

    def __init__(self, message: str, *, port_taken: bool = False) -> None:
        super().__init__(message)
        self.port_taken = port_taken


class LogFile:
    """A server's log file, remembering where this run of the server started writing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        self.offset = path.stat().st_size

    def this_run(self) -> str:
        """What was written since this object was created."""
        with self.path.open("rb") as f:
            f.seek(self.offset)
            return f.read().decode(errors="replace")

    def tail(self, lines: int = 30) -> str:
        text = self.this_run().rstrip() or "(empty)"
        return "\n".join(text.splitlines()[-lines:])

    def port_taken(self) -> bool:
        """True if this run failed because another process got one of its ports first."""
        return "already in use" in self.this_run().lower()


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/PID/stat), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in field 2 may contain spaces; fields after ")" are plain.
    fields = stat.rpartition(")")[2].split()
    if fields[0] in ("Z", "X"):  # a zombie has exited; it only waits to be reaped
        return None
    return fields[19]


def pid_alive(pid: int, start_time: str | None = None) -> bool:
    """True if `pid` runs and, when given, started at `start_time` (so a reused pid is not ours)."""
    current = process_start_time(pid)
    if current is None:
        return False
    return start_time is None or current == start_time


class PidFile:
    """`PID STARTTIME` in a file, so another process (`down`) can stop the server safely."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid} {process_start_time(pid) or ''}\n")

    def read(self) -> tuple[int, str | None] | None:
        try:
            parts = self.path.read_text().split()
        except OSError:
            return None
        if not parts or not parts[0].isdigit():
            return None
        return int(parts[0]), (parts[1] if len(parts) > 1 else None)

    def alive_pid(self) -> int | None:
        """The pid if that very process still runs, else None."""
        entry = self.read()
        if entry is None or not pid_alive(*entry):
            return None
        return entry[0]

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def spawn(
    argv: Sequence[str],
    log: LogFile,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, stdout and stderr appended to `log`. Does not block.

    A new session means the server outlives the CLI that started it and ignores the terminal's
    Ctrl-C; stopping it is `terminate()`'s job.
    """
    with log.path.open("ab") as out:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The server leads its own process group (new session), so this reaches any helpers too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    # Our own child stays a zombie (looking alive to kill(0)) until waited for.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def terminate(pid: int, start_time: str | None = None, grace_s: float = 15.0) -> None:
    """SIGTERM the process (and its group), wait up to `grace_s`, then SIGKILL. Blocks; idempotent.

    Raises StackError only if the process survives SIGKILL for 5 s.
    """
    if not pid_alive(pid, start_time):
        _reap(pid)
        return
    _signal_group(pid, signal.SIGTERM)
    if wait_until(lambda: _gone(pid, start_time), grace_s):
        return
    _signal_group(pid, signal.SIGKILL)
    if not wait_until(lambda: _gone(pid, start_time), 5.0):
        raise StackError(f"process {pid} survived SIGKILL")


def kill_hard(pid: int, start_time: str | None = None) -> None:
    """kill -9 of the process and its group, as a power cut or the OOM killer would: no
    shutdown of any kind. Blocks until it is gone; idempotent."""
    if not pid_alive(pid, start_time):
        _reap(pid)
        return
    _signal_group(pid, signal.SIGKILL)
    if not wait_until(lambda: _gone(pid, start_time), 5.0):
        raise StackError(f"process {pid} survived SIGKILL")


def _gone(pid: int, start_time: str | None) -> bool:
    _reap(pid)
    return not pid_alive(pid, start_time)


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll `check` until it returns True or `timeout_s` passes. Returns the last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, on a fresh loop in its own thread.

    Never on the calling thread: asyncio.run() refuses under a running loop (an async test
    calling a sync helper) and, when it does run, resets the thread's current loop, which
    would pull the loop from under pytest-asyncio.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
