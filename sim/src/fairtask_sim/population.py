"""The simulated workforce: who each worker is, which pools they fit, when they want to be
online, and when the power goes out. Drawn once per run from the scenario's seed, so every
policy faces exactly the same people on the same days."""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from dispatcher.domain.scheduling.policy import DAY_S, WorkerProfile
from fairtask_sim.scenario import Behaviour, Region, Scenario, TaskType
from fairtask_sim.timeofday import NIGHT_END_S, NIGHT_START_S, merge_spans


@dataclass(frozen=True)
class Outage:
    region: int
    start_s: float
    end_s: float
    workers: tuple[int, ...]


@dataclass(frozen=True)
class Population:
    profiles: tuple[WorkerProfile, ...]
    region_of: tuple[int, ...]
    # Per worker: the pool indices whose skills (and opt-in, for sensitive pools) they fit.
    pools_of: tuple[tuple[int, ...], ...]
    # Per worker: a multiplier on task durations (some people are quicker than others).
    speed: tuple[float, ...]
    # Per worker: the spans of virtual time in which they want to be connected.
    presence: tuple[tuple[tuple[float, float], ...], ...]
    outages: tuple[Outage, ...]


def fits(profile: WorkerProfile, task_type: TaskType) -> bool:
    if task_type.sensitive and not profile.sensitive_opt_in:
        return False
    return all(skill in profile.skills for skill in task_type.skills)


def build_population(scenario: Scenario, seed: int) -> Population:
    rng = random.Random(f"{seed}/population")
    profiles: list[WorkerProfile] = []
    region_of: list[int] = []
    speed: list[float] = []
    presence: list[tuple[tuple[float, float], ...]] = []
    for r_index, region in enumerate(scenario.regions):
        for profile in _region_profiles(region, rng):
            profiles.append(profile)
            region_of.append(r_index)
            speed.append(math.exp(rng.gauss(0.0, 0.1)))
            spans = _presence_spans(region, profile, scenario.behaviour, scenario.duration_s, rng)
            presence.append(tuple(spans))
    pools_of = tuple(
        tuple(p for p, task_type in enumerate(scenario.task_types) if fits(profile, task_type))
        for profile in profiles
    )
    outages = _outages(scenario, region_of, rng)
    return Population(
        tuple(profiles), tuple(region_of), pools_of, tuple(speed), tuple(presence), outages
    )


def _chosen(rng: random.Random, count: int, share: float) -> set[int]:
    """Exactly round(share * count) of the region's workers, so pool sizes match the file."""
    return set(rng.sample(range(count), round(share * count)))


def _region_profiles(region: Region, rng: random.Random) -> list[WorkerProfile]:
    count = region.workers
    skilled = {skill: _chosen(rng, count, share) for skill, share in region.skills}
    opted_in = _chosen(rng, count, region.sensitive_opt_in)
    pollers = _chosen(rng, count, region.night_pollers)
    return [
        WorkerProfile(
            worker_id=f"{region.name}-{index:05d}",
            region=region.name,
            utc_offset_s=region.utc_offset_s,
            windows=region.windows,
            skills=frozenset(skill for skill, members in skilled.items() if index in members),
            sensitive_opt_in=index in opted_in,
            exposure_cap_s=region.exposure_cap_s,
            link_latency_ms=region.link_latency_ms,
            night_poller=index in pollers,
        )
        for index in range(count)
    ]


def _presence_spans(
    region: Region,
    profile: WorkerProfile,
    behaviour: Behaviour,
    duration_s: float,
    rng: random.Random,
) -> list[tuple[float, float]]:
    # Habits are per worker; how early or late on a given day varies from day to day.
    early = rng.random() < behaviour.early_connect_share
    late_start = not early and rng.random() < behaviour.late_start_share
    lingers = rng.random() < behaviour.linger_share
    drift = behaviour.drift_max_s
    spans: list[tuple[float, float]] = []
    first_day = math.floor(region.utc_offset_s / DAY_S) - 1
    last_day = math.floor((duration_s + region.utc_offset_s) / DAY_S) + 1
    for day in range(first_day, last_day + 1):
        midnight = day * DAY_S - region.utc_offset_s
        for window in region.windows:
            if behaviour.attendance < 1 and rng.random() >= behaviour.attendance:
                continue
            start = float(midnight + window.start_min * 60)
            length = float((window.end_min - window.start_min) * 60)
            length = length if length > 0 else length + DAY_S
            end = start + length
            if early:
                start -= rng.uniform(0, drift)
            elif late_start:
                start += rng.uniform(0, min(drift, length) / 2)
            if lingers:
                end += rng.uniform(0, drift)
            spans.append((start, end))
        if profile.night_poller:
            # Under first-come dispatch they keep watching through the night for work.
            night_start = midnight + NIGHT_START_S
            spans.append((night_start, midnight + DAY_S + NIGHT_END_S))
    return merge_spans(spans, 0.0, duration_s)


def _outages(
    scenario: Scenario, region_of: Sequence[int], rng: random.Random
) -> tuple[Outage, ...]:
    members: dict[int, list[int]] = {}
    for worker, region_index in enumerate(region_of):
        members.setdefault(region_index, []).append(worker)
    outages: list[Outage] = []
    for r_index, region in enumerate(scenario.regions):
        rate = region.outages.per_day / DAY_S
        if rate <= 0 or region.outages.mean_s <= 0:
            continue
        pool = members.get(r_index, [])
        at = rng.expovariate(rate)
        while at < scenario.duration_s:
            length = rng.expovariate(1.0 / region.outages.mean_s)
            hit = rng.sample(pool, round(region.outages.affected_share * len(pool)))
            outages.append(Outage(r_index, at, at + length, tuple(sorted(hit))))
            at += rng.expovariate(rate)
    return tuple(outages)
