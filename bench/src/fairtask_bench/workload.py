"""What every run offers and to whom: one task type, workers available all day, and task
payloads that carry the moment the platform submitted them."""

import struct
import time

from fairtask.v1 import dispatcher_pb2 as d

PLATFORM = "bench-lab"
TASK_TYPE = "bench-label"
# Workers that work have this skill; the ones that only hold a connection have another, so
# the scheduler never offers them the benchmark's tasks.
WORK_SKILL = "bench"
IDLE_SKILL = "bench-idle"
# Without a window the scheduler keeps default quiet hours, and the run would depend on the clock.
ALL_DAY = ("00:00-24:00",)
REGIONS = ("ph", "ke", "br", "in", "us")
_STAMP = struct.Struct("<d")


def task_type() -> d.TaskType:
    return d.TaskType(
        name=TASK_TYPE,
        purpose="The benchmark labels synthetic images to measure dispatch speed",
        price_micros=50_000,
        effort_seconds=10,
        skills=[WORK_SKILL],
    )


def stamp(now_s: float | None = None) -> bytes:
    """A payload holding the wall-clock second it was made (the submit time)."""
    return _STAMP.pack(time.time() if now_s is None else now_s)


def stamped_at(payload: bytes) -> float:
    """The second a `stamp` payload was made; raises struct.error for anything else."""
    return float(_STAMP.unpack_from(payload)[0])
