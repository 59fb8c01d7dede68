"""The report of one run, with the fields DESIGN "Scenario files" lists (and a few more).

Headline figures are the worst pool's: the lowest Jain index and the highest max/min ratio over
the pools. JSON has no infinity, so an unbounded max/min (a region with eligible time and no
work) is reported as null, as is any figure that is undefined (no work at all).
"""

import itertools
import math
from typing import Any

from dispatcher.domain.scheduling.policy import DAY_S
from fairtask_sim.engine import SimResult
from fairtask_sim.events import EXPIRED, LEASED, OFFERED, QUEUED
from fairtask_sim.fairness import Allocation, fairness_of
from fairtask_sim.feasibility import FeasibilityIndex
from fairtask_sim.scenario import MICROS_PER_USD, Region
from fairtask_sim.timeofday import window_spans

Report = dict[str, Any]


def build_report(result: SimResult) -> Report:
    scenario, tally, population = result.scenario, result.tally, result.population
    pools = len(scenario.task_types)
    members: list[list[int]] = [[] for _ in scenario.regions]
    for worker, region_index in enumerate(population.region_of):
        members[region_index].append(worker)
    regions_out: Report = {}
    for r, region in enumerate(scenario.regions):
        cells = range(r * pools, (r + 1) * pools)
        regions_out[region.name] = _raw(
            eligible_s=sum(tally.eligible_s[w] for w in members[r]),
            work_s=sum(tally.rp_work_s[c] for c in cells),
            completed=sum(tally.rp_completed[c] for c in cells),
            earnings_micros=sum(tally.rp_earnings_micros[c] for c in cells),
            paid_s=sum(tally.rp_paid_s[c] for c in cells),
            pushes=sum(tally.rp_pushes[c] for c in cells),
            night_s=sum(tally.rp_night_s[c] for c in cells),
        )
    overall = fairness_of(
        {
            n: Allocation(v["work_seconds_assigned"], v["eligible_worker_seconds"])
            for n, v in regions_out.items()
        }
    )
    for name, share in overall.shares.items():
        regions_out[name]["share"] = _num(share)
    pools_out = {t.name: _pool(result, p, members) for p, t in enumerate(scenario.task_types)}
    measured = [v for v in pools_out.values() if v["jain_index"] is not None]
    worst = min(measured, key=lambda v: v["jain_index"], default=None)
    ratios = [v["_ratio"] for v in measured]
    worker_jains = [v["worker_jain_index"] for v in measured if v["worker_jain_index"] is not None]
    for value in pools_out.values():
        del value["_ratio"]
    misses, feasible_misses = _deadline_misses(result, members)
    rates = [v["effective_hourly_usd"] for v in regions_out.values() if v["paid_seconds"] > 0]
    pending = sum(1 for state in result.task_state if state in (QUEUED, OFFERED, LEASED))
    expired = sum(1 for state in result.task_state if state == EXPIRED)
    delays = {
        region.name: _num(tally.first_offer_delay_s[r]) for r, region in enumerate(scenario.regions)
    }
    total_eligible = sum(tally.eligible_s)
    total_work = sum(tally.rp_work_s)
    return {
        "policy": result.policy,
        "scenario": scenario.name,
        "seed": result.seed,
        "duration_hours": scenario.duration_s / 3600,
        "regions": regions_out,
        "pools": pools_out,
        "jain_index": _num(worst["jain_index"]) if worst else None,
        "max_min_share_ratio": _num(max(ratios)) if ratios else None,
        "worst_pool": next((k for k, v in pools_out.items() if v is worst), None),
        "worker_jain_index": _num(min(worker_jains)) if worker_jains else None,
        "overall_jain_index": _num(overall.jain_index),
        "overall_max_min_share_ratio": _num(overall.max_min_share_ratio),
        "overall_worker_jain_index": _num(
            fairness_of(
                {
                    p.worker_id: Allocation(sum(tally.work_s[w]), tally.eligible_s[w])
                    for w, p in enumerate(population.profiles)
                }
            ).jain_index
        ),
        "load": _num(total_work / total_eligible) if total_eligible > 0 else None,
        "tasks_submitted": tally.submitted,
        "tasks_completed": sum(tally.completed),
        "tasks_cancelled": tally.cancelled,
        "tasks_pending_at_end": pending,
        "tasks_expired": expired,
        # Lost to the policy, plus anything the books cannot account for (both must be 0).
        "tasks_lost": tally.submitted - sum(tally.completed) - tally.cancelled - expired - pending,
        "deadline_misses": misses,
        "feasible_deadline_misses": feasible_misses,
        "pushes_outside_window": sum(tally.pushes_outside_window),
        "night_work_seconds": _num(sum(tally.night_s)),
        "exposure_cap_exceeded": tally.exposure_cap_exceeded,
        "pay_rate_spread_usd": _num(max(rates) - min(rates)) if rates else None,
        "below_floor_payments": tally.below_floor_payments,
        "floor_top_ups": tally.floor_top_ups,
        "offers": tally.offers,
        "declines": tally.declines,
        "expiries": tally.expiries,
        "leases": tally.leases,
        "leases_lost": tally.leases_lost,
        "first_offer_delay_s": delays,
        "first_offer_delay_max_s": _num(
            max((d for d in delays.values() if d is not None), default=None)
        ),
        "wakeups_measured": sum(tally.wakeups_measured),
        "scheduling_round_s": scenario.behaviour.round_s,
        "wall_seconds": round(result.wall_seconds, 3),
        "cpu_seconds": round(result.cpu_seconds, 3),
        "timeline": {
            "hours": tally.sample_hours,
            "regions": {
                region.name: [_num(s) for s in tally.sample_shares[r]]
                for r, region in enumerate(scenario.regions)
            },
        },
        "workers": [
            {
                "worker_id": profile.worker_id,
                "region": profile.region,
                "eligible_seconds": round(tally.eligible_s[w], 1),
                "work_seconds": round(sum(tally.work_s[w]), 1),
                "earnings_usd": tally.earnings_micros[w] / MICROS_PER_USD,
                "paid_seconds": round(tally.paid_s[w], 1),
            }
            for w, profile in enumerate(population.profiles)
        ],
    }


def _raw(
    *,
    eligible_s: float,
    work_s: float,
    completed: int,
    earnings_micros: int,
    paid_s: float,
    pushes: int,
    night_s: float,
) -> Report:
    return {
        "eligible_worker_seconds": round(eligible_s, 1),
        "work_seconds_assigned": round(work_s, 1),
        "tasks_completed": completed,
        "earnings_usd": earnings_micros / MICROS_PER_USD,
        "paid_seconds": round(paid_s, 1),
        "pushes_outside_window": pushes,
        "night_work_seconds": round(night_s, 1),
        "effective_hourly_usd": round(earnings_micros / MICROS_PER_USD / paid_s * 3600, 4)
        if paid_s > 0
        else None,
    }


def _pool(result: SimResult, pool: int, members: list[list[int]]) -> Report:
    scenario, tally, population = result.scenario, result.tally, result.population
    pools = len(scenario.task_types)
    regions: Report = {}
    by_worker: dict[str, Allocation] = {}
    for r, region in enumerate(scenario.regions):
        fitting = [w for w in members[r] if pool in population.pools_of[w]]
        if not fitting:
            continue
        cell = r * pools + pool
        regions[region.name] = _raw(
            eligible_s=sum(tally.eligible_s[w] for w in fitting),
            work_s=tally.rp_work_s[cell],
            completed=tally.rp_completed[cell],
            earnings_micros=tally.rp_earnings_micros[cell],
            paid_s=tally.rp_paid_s[cell],
            pushes=tally.rp_pushes[cell],
            night_s=tally.rp_night_s[cell],
        )
        for w in fitting:
            by_worker[population.profiles[w].worker_id] = Allocation(
                tally.work_s[w][pool], tally.eligible_s[w]
            )
    fairness = fairness_of(
        {
            n: Allocation(v["work_seconds_assigned"], v["eligible_worker_seconds"])
            for n, v in regions.items()
        }
    )
    for name, share in fairness.shares.items():
        regions[name]["share"] = _num(share)
    task_type = scenario.task_types[pool]
    # One price per task type: within a pool, hourly pay differs only by how long work took.
    rates = [v["effective_hourly_usd"] for v in regions.values() if v["paid_seconds"] > 0]
    return {
        "regions": regions,
        "pay_rate_spread_usd": _num(max(rates) - min(rates)) if rates else None,
        "workers": len(by_worker),
        "jain_index": _num(fairness.jain_index),
        "max_min_share_ratio": _num(fairness.max_min_share_ratio),
        "_ratio": math.inf
        if fairness.max_min_share_ratio is None
        else fairness.max_min_share_ratio,
        "worker_jain_index": _num(fairness_of(by_worker).jain_index),
        "deadline_slack": _has_slack(task_type.deadline_s, task_type.effort_s, scenario.regions),
    }


def _has_slack(deadline_s: float | None, effort_s: float, regions: tuple[Region, ...]) -> bool:
    """Whether a task of the pool can wait out the longest sleep of any region and still be
    done in time: the condition under which holding work for a sleeping region is possible."""
    if deadline_s is None:
        return True
    longest_sleep = 0.0
    for region in regions:
        spans = window_spans(region.windows, region.utc_offset_s, 3 * DAY_S)
        gaps = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
        longest_sleep = max([longest_sleep, *gaps])
    return deadline_s >= longest_sleep + effort_s


def _deadline_misses(result: SimResult, members: list[list[int]]) -> tuple[int, int]:
    end = result.scenario.duration_s
    missed = list(result.tally.late_completions)
    missed += [
        task
        for task, state in enumerate(result.task_state)
        if state in (QUEUED, OFFERED, LEASED, EXPIRED) and result.task_deadline[task] <= end
    ]
    indexes: dict[int, FeasibilityIndex] = {}
    feasible = 0
    for task in missed:
        pool = result.task_pool[task]
        if pool not in indexes:
            spans = [
                span
                for worker, pools in enumerate(result.population.pools_of)
                if pool in pools
                for span in result.tally.eligible_spans[worker]
            ]
            indexes[pool] = FeasibilityIndex(spans)
        effort = result.scenario.task_types[pool].effort_s
        arrived = result.task_arrived[task]
        if indexes[pool].feasible(arrived, result.task_deadline[task], effort):
            feasible += 1
    return len(missed), feasible


def _num(value: float | None) -> float | None:
    if value is None or math.isinf(value) or math.isnan(value):
        return None
    return round(value, 6)
