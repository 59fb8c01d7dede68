"""The scenario file's shape, checked field by field (pydantic, strict types, no unknown keys).

Only the input shape lives here; `scenario.py` turns it into the frozen dataclasses the engine
uses and adds the checks that span several fields (unique names, known skills, the pay floor).
"""

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

_CLOCK = re.compile(r"^(\d{2}):(\d{2})$")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# Categories DESIGN names for exposure budgets.
SENSITIVE_CATEGORIES = ("violence", "sexual", "hate", "self-harm")


def clock_minutes(text: str, *, allow_24: bool) -> int:
    """ "HH:MM" as minutes after midnight; ValueError if it is not a time of day."""
    match = _CLOCK.match(text.strip())
    if match is None:
        raise ValueError
    hours, minutes = int(match[1]), int(match[2])
    if allow_24 and (hours, minutes) == (24, 0):
        return 24 * 60
    if hours > 23 or minutes > 59:
        raise ValueError
    return hours * 60 + minutes


def window_minutes(text: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError
    return clock_minutes(start, allow_24=False), clock_minutes(end, allow_24=True)


def _quoted_time(value: object) -> object:
    # YAML 1.1 reads an unquoted 03:00 as the base-60 integer 180.
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'read as the number {value}: quote times of day, e.g. "03:00"')
    return value


def _checked_window(value: str) -> str:
    try:
        start, end = window_minutes(value)
    except ValueError:
        raise ValueError(f'"{value}" is not HH:MM-HH:MM') from None
    if start == end % (24 * 60):
        raise ValueError(f'"{value}" is empty: start and end are the same time')
    return value


def _checked_clock(value: str) -> str:
    try:
        clock_minutes(value, allow_24=False)
    except ValueError:
        raise ValueError(f'"{value}" is not HH:MM') from None
    return value


WindowText = Annotated[str, BeforeValidator(_quoted_time), AfterValidator(_checked_window)]
ClockText = Annotated[str, BeforeValidator(_quoted_time), AfterValidator(_checked_clock)]
Share = Annotated[float, Field(ge=0, le=1)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=_NAME)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OutagesIn(_Input):
    per_day: float = Field(default=0.0, ge=0, le=48)
    mean_minutes: float = Field(default=0.0, ge=0, le=7 * 24 * 60)
    # Share of the region's workers a single cut takes offline (1 = the whole region).
    affected_share: Share = 1.0


class RegionIn(_Input):
    name: Name
    utc_offset_hours: float = Field(ge=-12, le=14)
    workers: int = Field(ge=1, le=1_000_000)
    availability: list[WindowText] = Field(min_length=1, max_length=8)
    link_latency_ms: float = Field(default=50.0, ge=0, le=60_000)
    outages: OutagesIn = OutagesIn()
    night_pollers: Share = 0.0
    skills: dict[Name, Share] = {}
    sensitive_opt_in: Share = 0.0
    exposure_cap_hours: float = Field(default=4.0, gt=0, le=24)


class BurstIn(_Input):
    at_utc: ClockText
    count: int = Field(ge=1, le=1_000_000)


class TaskTypeIn(_Input):
    name: Name
    arrivals_per_hour: float = Field(ge=0, le=10_000_000)
    bursts: list[BurstIn] = []
    effort_seconds: float = Field(gt=0, le=24 * 3600)
    # Absent: the task has no deadline.
    deadline_hours: float | None = Field(default=None, gt=0, le=24 * 365)
    price_usd: float = Field(ge=0, le=100_000)
    skills: list[Name] = []
    sensitive: bool = False
    sensitive_category: str | None = None
    # Share of tasks the platform cancels at a random moment before their deadline.
    cancel_share: Share = 0.0

    @field_validator("sensitive_category")
    @classmethod
    def _category(cls, value: str | None) -> str | None:
        if value is not None and value not in SENSITIVE_CATEGORIES:
            raise ValueError(f'"{value}" is not one of {", ".join(SENSITIVE_CATEGORIES)}')
        return value


class PlatformIn(_Input):
    name: Name
    task_types: list[TaskTypeIn] = Field(min_length=1)


class BehaviourIn(_Input):
    """How simulated people behave; every field has a default (see engine.Behaviour)."""

    accept_share: Share = 0.92
    decline_share: Share = 0.06
    think_seconds_mean: float = Field(default=8.0, ge=0, le=110)
    offer_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    early_connect_share: Share = 0.15
    linger_share: Share = 0.15
    drift_max_minutes: float = Field(default=20.0, ge=0, le=180)
    late_start_share: Share = 0.1
    attendance: Share = 1.0
    work_noise_sigma: float = Field(default=0.25, ge=0, le=2)
    grace_minutes: float = Field(default=15.0, ge=0, le=24 * 60)
    scheduling_round_seconds: float = Field(default=1.0, gt=0, le=600)
    race_jitter_ms: float = Field(default=100.0, ge=0, le=60_000)
    poll_interval_seconds: tuple[float, float] = (5.0, 30.0)


class ScenarioIn(_Input):
    name: Name
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    duration_hours: float = Field(gt=0, le=24 * 62)
    pay_floor_usd_per_hour: float = Field(default=12.0, ge=0, le=10_000)
    regions: list[RegionIn] = Field(min_length=1)
    platforms: list[PlatformIn] = Field(min_length=1)
    behaviour: BehaviourIn = BehaviourIn()
