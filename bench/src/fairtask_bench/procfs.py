"""What the kernel says about processes and the machine: memory, CPU time, busy cores."""

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of `pid` (VmRSS). Raises OSError if the process is gone."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no VmRSS for {pid}")


def _stats() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used) for every process there is."""
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # After "(command)": state is field 3, ppid 4, utime 14 and stime 15 (1-based).
        fields = text.rpartition(")")[2].split()
        used = (int(fields[11]) + int(fields[12])) / _TICKS_PER_S
        found[int(entry.name)] = (int(fields[1]), used)
    return found


def _tree_seconds(stats: Mapping[int, tuple[int, float]], roots: Iterable[int]) -> float:
    """CPU seconds of the `roots` and every living descendant (PostgreSQL's backends)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [pid for pid in roots if pid in stats]
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo += children.get(pid, [])
    return total


def _own_seconds(stats: Mapping[int, tuple[int, float]], pids: Iterable[int]) -> float:
    return sum(stats[pid][1] for pid in pids if pid in stats)


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over every core since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuWindow:
    """CPU use between construction and `finish` per named group of processes (with their
    children for the groups named in `trees`), and how busy the whole machine was, other
    people's work included."""

    def __init__(self, groups: Mapping[str, Iterable[int]], trees: Iterable[str] = ()) -> None:
        self._groups = {name: list(pids) for name, pids in groups.items()}
        self._trees = set(trees)
        self._start = self._seconds(_stats())
        self._machine = _machine_ticks()

    def finish(self, wall_s: float) -> dict[str, float]:
        """Cores used per group (1.0 is one core busy the whole window), and the share of
        all the machine's cores that were busy."""
        end = self._seconds(_stats())
        used = {
            f"{name}_cores": round((end[name] - self._start[name]) / wall_s, 3)
            for name in self._groups
        }
        busy0, total0 = self._machine
        busy1, total1 = _machine_ticks()
        share = (busy1 - busy0) / max(total1 - total0, 1)
        cores = os.cpu_count() or 1
        # Whatever else ran meanwhile (other people's work on a shared machine, the kernel).
        used["others_cores"] = round(max(share * cores - sum(used.values()), 0.0), 3)
        used["machine_busy_share"] = round(share, 3)
        return used

    def _seconds(self, stats: Mapping[int, tuple[int, float]]) -> dict[str, float]:
        return {
            name: (_tree_seconds if name in self._trees else _own_seconds)(stats, pids)
            for name, pids in self._groups.items()
        }
