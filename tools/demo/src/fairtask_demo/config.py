"""What the demo load looks like: regions of workers, platforms and their task types.

Defaults give a small but busy run on a 2-core machine: 20 tasks/s across two platforms,
15 workers in each of three regions, and a time scale that compresses 90 s of work into ~1 s.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RegionSpec:
    name: str
    time_zone: str
    # Used only when the machine has no tz database, to still tell local day from night.
    utc_offset_hours: float
    workers: int
    # Local "HH:MM-HH:MM" windows the workers accept offers in; the demo keeps them open all
    # day because the skeleton dispatcher does not filter on availability yet.
    availability: tuple[str, ...] = ("00:00-24:00",)
    # Short power cuts (stream closed, then reconnect) to exercise the lease grace path.
    power_cuts: bool = False


@dataclass(frozen=True)
class TaskTypeSpec:
    name: str
    purpose: str
    price_micros: int
    effort_seconds: int
    skills: tuple[str, ...] = ("en",)
    sensitive: bool = False
    # Several workers answer each task: (min answers, max answers, confidence target).
    overlap: tuple[int, int, float] | None = None


@dataclass(frozen=True)
class PlatformSpec:
    name: str
    task_type: TaskTypeSpec
    # This platform's share of the total submission rate.
    weight: float = 1.0


def _default_regions() -> tuple[RegionSpec, ...]:
    return (
        RegionSpec("us", "America/Chicago", -6, 15),
        RegionSpec("ph", "Asia/Manila", 8, 15),
        RegionSpec("ke", "Africa/Nairobi", 3, 15, power_cuts=True),
    )


def _default_platforms() -> tuple[PlatformSpec, ...]:
    return (
        PlatformSpec(
            "lab-a",
            TaskTypeSpec(
                "image-label",
                "Lab A trains an open image classifier for wildlife camera traps",
                price_micros=400_000,
                effort_seconds=90,
            ),
        ),
        PlatformSpec(
            "lab-b",
            TaskTypeSpec(
                "chat-rating",
                "Lab B rates chatbot answers to evaluate a public health assistant",
                price_micros=300_000,
                effort_seconds=60,
                # Two answers that agree are enough (posterior 0.84 for two unknown workers);
                # a disagreement asks a third.
                overlap=(2, 3, 0.8),
            ),
        ),
    )


@dataclass(frozen=True)
class DemoConfig:
    seed: int = 7
    # None: run until SIGINT/SIGTERM.
    duration_s: float | None = None
    policy: str = "fair"
    scenario: str = "demo"
    tasks_per_s: float = 20.0
    batch_interval_s: float = 1.0
    gold_share: float = 0.03
    deadline_hours: float = 4.0
    # Wall seconds per second of task effort: 0.01 turns 90 s of work into 0.9 s.
    time_scale: float = 0.01
    decline_share: float = 0.05
    # Each worker answers right with a probability drawn from this range (load.truth).
    worker_accuracy: tuple[float, float] = (0.8, 0.97)
    power_cut_every_s: float = 8.0
    power_cut_workers: int = 2
    power_cut_s: tuple[float, float] = (2.0, 5.0)
    drain_s: float = 20.0
    settle_s: float = 15.0
    progress_every_s: float = 5.0
    pay_floor_usd_per_hour: float = 12.0
    # Night as the design's default quiet hours, local time.
    night: str = "22:00-07:00"
    regions: tuple[RegionSpec, ...] = field(default_factory=_default_regions)
    platforms: tuple[PlatformSpec, ...] = field(default_factory=_default_platforms)
