"""Scenario files (DESIGN "Scenario files"): load, validate, and freeze into dataclasses.

Every problem is reported with the path of the field it is about, e.g.
`regions[2].availability[0]: "25:00-26:00" is not HH:MM-HH:MM`, and all problems of a file are
reported at once.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from dispatcher.domain.scheduling.policy import Window
from fairtask_sim._schema import BehaviourIn, ScenarioIn, clock_minutes, window_minutes

MICROS_PER_USD = 1_000_000


class ScenarioError(ValueError):
    """A scenario file that cannot be simulated; `problems` are "path: what is wrong" lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid scenario\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Outages:
    per_day: float
    mean_s: float
    affected_share: float


@dataclass(frozen=True)
class Region:
    name: str
    utc_offset_s: int
    workers: int
    windows: tuple[Window, ...]
    link_latency_ms: float
    outages: Outages
    night_pollers: float
    skills: tuple[tuple[str, float], ...]
    sensitive_opt_in: float
    exposure_cap_s: float


@dataclass(frozen=True)
class Burst:
    at_utc_s: int
    count: int


@dataclass(frozen=True)
class TaskType:
    """One pool: tasks of this type go to workers whose skills fit it."""

    name: str
    platform: str
    arrivals_per_hour: float
    bursts: tuple[Burst, ...]
    effort_s: float
    deadline_s: float | None
    price_micros: int
    skills: tuple[str, ...]
    sensitive: bool
    sensitive_category: str | None
    cancel_share: float


@dataclass(frozen=True)
class Behaviour:
    accept_share: float
    decline_share: float
    think_s_mean: float
    offer_timeout_s: float
    early_connect_share: float
    linger_share: float
    drift_max_s: float
    late_start_share: float
    attendance: float
    work_noise_sigma: float
    grace_s: float
    round_s: float
    race_jitter_ms: float
    poll_interval_s: tuple[float, float]


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    duration_s: float
    pay_floor_micros_per_hour: int
    regions: tuple[Region, ...]
    task_types: tuple[TaskType, ...]
    behaviour: Behaviour


def load_scenario(path: str | Path) -> Scenario:
    """Reads and validates a scenario file. Raises ScenarioError (also for unreadable YAML)."""
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(source, [f"<file>: cannot be read ({error.strerror})"]) from None
    except yaml.YAMLError as error:
        raise ScenarioError(source, [f"<file>: not valid YAML ({error})"]) from None
    return parse_scenario(data, source)


def parse_scenario(data: object, source: str = "<scenario>") -> Scenario:
    if not isinstance(data, Mapping):
        raise ScenarioError(source, ["<root>: must be a mapping of fields"])
    try:
        checked = ScenarioIn.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(source, [_describe(e) for e in error.errors()]) from None
    problems = _cross_field_problems(checked)
    if problems:
        raise ScenarioError(source, problems)
    return _freeze(checked)


def _describe(error: Mapping[str, object]) -> str:
    loc = error.get("loc", ())
    path = _path(loc if isinstance(loc, tuple) else ())
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    kind = str(error.get("type", ""))
    if kind in ("missing", "extra_forbidden"):
        message = "is required" if kind == "missing" else "is not a known field"
        return f"{path}: {message}"
    if kind != "value_error" and "input" in error:
        message = f"{message} (got {error['input']!r})"
    return f"{path}: {message}"


def _path(loc: tuple[object, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "<root>"


def _cross_field_problems(scenario: ScenarioIn) -> list[str]:
    problems: list[str] = []
    _unique(problems, "regions", [r.name for r in scenario.regions])
    _unique(problems, "platforms", [p.name for p in scenario.platforms])
    for r_index, region in enumerate(scenario.regions):
        if region.outages.per_day > 0 and region.outages.mean_minutes <= 0:
            problems.append(
                f"regions[{r_index}].outages.mean_minutes: must be > 0 when per_day > 0"
            )
    type_paths: dict[str, str] = {}
    offered_skills = {s for r in scenario.regions for s, share in r.skills.items() if share > 0}
    floor = scenario.pay_floor_usd_per_hour
    for p_index, platform in enumerate(scenario.platforms):
        for t_index, task_type in enumerate(platform.task_types):
            path = f"platforms[{p_index}].task_types[{t_index}]"
            if task_type.name in type_paths:
                problems.append(
                    f'{path}.name: "{task_type.name}" is already used by '
                    f"{type_paths[task_type.name]} (task type names are pool names)"
                )
            type_paths.setdefault(task_type.name, path)
            for s_index, skill in enumerate(task_type.skills):
                if skill not in offered_skills:
                    problems.append(
                        f'{path}.skills[{s_index}]: "{skill}" is not a skill of any region'
                    )
            if task_type.sensitive and not any(r.sensitive_opt_in > 0 for r in scenario.regions):
                problems.append(f"{path}.sensitive: no region has workers who opted in")
            if task_type.sensitive_category is not None and not task_type.sensitive:
                problems.append(f"{path}.sensitive_category: set on a task that is not sensitive")
            hourly = task_type.price_usd / task_type.effort_seconds * 3600
            if hourly < floor - 1e-9:
                problems.append(
                    f"{path}.price_usd: {task_type.price_usd} pays ${hourly:.2f}/h at "
                    f"{task_type.effort_seconds:g} s of effort, below the pay floor of "
                    f"${floor:g}/h"
                )
            if task_type.arrivals_per_hour == 0 and not task_type.bursts:
                problems.append(f"{path}: no arrivals (arrivals_per_hour is 0 and no bursts)")
    _behaviour_problems(problems, scenario.behaviour)
    return problems


def _unique(problems: list[str], field: str, names: list[str]) -> None:
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in first:
            problems.append(
                f'{field}[{index}].name: "{name}" is a duplicate of {field}[{first[name]}].name'
            )
        first.setdefault(name, index)


def _behaviour_problems(problems: list[str], behaviour: BehaviourIn) -> None:
    if behaviour.accept_share + behaviour.decline_share > 1 + 1e-9:
        problems.append("behaviour.decline_share: accept_share + decline_share exceeds 1")
    low, high = behaviour.poll_interval_seconds
    if not 0 < low <= high:
        problems.append("behaviour.poll_interval_seconds: needs 0 < low <= high")
    if behaviour.think_seconds_mean >= behaviour.offer_timeout_seconds:
        problems.append("behaviour.think_seconds_mean: must be below offer_timeout_seconds")


def _freeze(scenario: ScenarioIn) -> Scenario:
    regions = tuple(
        Region(
            name=r.name,
            utc_offset_s=round(r.utc_offset_hours * 3600),
            workers=r.workers,
            windows=tuple(Window(*window_minutes(text)) for text in r.availability),
            link_latency_ms=r.link_latency_ms,
            outages=Outages(
                r.outages.per_day, r.outages.mean_minutes * 60, r.outages.affected_share
            ),
            night_pollers=r.night_pollers,
            skills=tuple(sorted(r.skills.items())),
            sensitive_opt_in=r.sensitive_opt_in,
            exposure_cap_s=r.exposure_cap_hours * 3600,
        )
        for r in scenario.regions
    )
    task_types = tuple(
        TaskType(
            name=t.name,
            platform=p.name,
            arrivals_per_hour=t.arrivals_per_hour,
            bursts=tuple(
                Burst(clock_minutes(b.at_utc, allow_24=False) * 60, b.count) for b in t.bursts
            ),
            effort_s=t.effort_seconds,
            deadline_s=None if t.deadline_hours is None else t.deadline_hours * 3600,
            price_micros=round(t.price_usd * MICROS_PER_USD),
            skills=tuple(t.skills),
            sensitive=t.sensitive,
            sensitive_category=t.sensitive_category,
            cancel_share=t.cancel_share,
        )
        for p in scenario.platforms
        for t in p.task_types
    )
    b = scenario.behaviour
    behaviour = Behaviour(
        accept_share=b.accept_share,
        decline_share=b.decline_share,
        think_s_mean=b.think_seconds_mean,
        offer_timeout_s=b.offer_timeout_seconds,
        early_connect_share=b.early_connect_share,
        linger_share=b.linger_share,
        drift_max_s=b.drift_max_minutes * 60,
        late_start_share=b.late_start_share,
        attendance=b.attendance,
        work_noise_sigma=b.work_noise_sigma,
        grace_s=b.grace_minutes * 60,
        round_s=b.scheduling_round_seconds,
        race_jitter_ms=b.race_jitter_ms,
        poll_interval_s=b.poll_interval_seconds,
    )
    return Scenario(
        name=scenario.name,
        seed=scenario.seed,
        duration_s=scenario.duration_hours * 3600,
        pay_floor_micros_per_hour=round(scenario.pay_floor_usd_per_hour * MICROS_PER_USD),
        regions=regions,
        task_types=task_types,
        behaviour=behaviour,
    )
