"""The run report: raw per-region and per-worker figures, and the fairness and pay verdicts.

Field meanings follow DESIGN.md "Scenario files" so `make run` and `make sim` reports compare.
Demo-specific choices: eligible seconds are seconds a worker's stream was connected (every demo
worker is inside its availability), work seconds are the nominal effort of the tasks a worker
completed (the demo compresses wall time), and effective hourly pay divides earnings by those
work seconds plus the paid onboarding seconds (onboarding pay is in the earnings) for the same
reason.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from fairtask_demo.model import (
    LOST,
    PENDING_STATES,
    FinalTask,
    RunRecord,
    Statement,
    SubmittedTask,
    WorkerTally,
)
from fairtask_demo.pay import (
    below_floor_payments,
    onboarding_seconds,
    pay_per_task,
    pay_rate_spread_usd,
)
from fairtask_demo.windows import inside, local_minute, parse_window, zone
from fairtask_sim.fairness import Allocation, fairness_of

_LOST_TASK = FinalTask(LOST)


@dataclass
class _Figures:
    """Raw figures of one region (in one pool, or overall)."""

    workers: int = 0
    eligible_worker_seconds: float = 0.0
    work_seconds_assigned: int = 0
    tasks_completed: int = 0
    earnings_micros: int = 0
    paid_seconds: int = 0
    pushes_outside_window: int = 0
    night_work_seconds: int = 0
    paid_onboarding_seconds: int = 0

    def as_json(self) -> dict[str, Any]:
        hours = (self.work_seconds_assigned + self.paid_onboarding_seconds) / 3600
        return {
            "workers": self.workers,
            "eligible_worker_seconds": round(self.eligible_worker_seconds, 3),
            "work_seconds_assigned": self.work_seconds_assigned,
            "tasks_completed": self.tasks_completed,
            "earnings_usd": _usd(self.earnings_micros),
            "paid_seconds": self.paid_seconds,
            "pushes_outside_window": self.pushes_outside_window,
            "night_work_seconds": self.night_work_seconds,
            "paid_onboarding_seconds": self.paid_onboarding_seconds,
            "effective_hourly_usd": round(_usd(self.earnings_micros) / hours, 4) if hours else None,
        }


def build_report(record: RunRecord) -> dict[str, Any]:
    tallies = {w.profile.worker_id: w for w in record.workers}
    night = parse_window(record.night_window)
    states = Counter(record.final.get(t, _LOST_TASK).state for t in record.tasks)
    regions: dict[str, _Figures] = defaultdict(_Figures)
    pools: dict[str, dict[str, _Figures]] = defaultdict(lambda: defaultdict(_Figures))
    workers: dict[str, _Figures] = {w: _Figures(workers=1) for w in tallies}

    for task in record.tasks.values():
        # A pool nobody worked in is still listed (with no shares), not silently dropped.
        pools.setdefault(task.task_type, defaultdict(_Figures))
    for tally in record.workers:
        regions[tally.profile.region].workers += 1
        for figures in (regions[tally.profile.region], workers[tally.profile.worker_id]):
            _add_presence(figures, tally, record.statements.get(tally.profile.worker_id))
    for task_id, task, done_by in _answers_given(record, tallies):
        at = done_by.submit_sent_at.get(task_id, record.ended_at)
        tz = zone(done_by.profile.time_zone, done_by.profile.utc_offset_hours)
        night_s = task.effort_seconds if inside(night, local_minute(at, tz)) else 0
        for figures in (
            regions[done_by.profile.region],
            workers[done_by.profile.worker_id],
            pools[task.task_type][done_by.profile.region],
        ):
            figures.tasks_completed += 1
            figures.work_seconds_assigned += task.effort_seconds
            figures.night_work_seconds += night_s
    # A further answer's copy is paid under its own id, for its platform task's work.
    paid_tasks = {**record.tasks, **_copies_of(record)}
    for worker_id, statement in record.statements.items():
        payee = tallies.get(worker_id)
        for task_id, (amount, seconds) in pay_per_task(statement).items():
            paid_for = paid_tasks.get(task_id)
            if payee is not None and paid_for is not None:
                figures = pools[paid_for.task_type][payee.profile.region]
                figures.earnings_micros += amount
                figures.paid_seconds += seconds
    for pool in pools.values():
        # Every demo worker has every skill, so each pool's eligible time is the region's.
        for name, figures in regions.items():
            pool[name].workers = figures.workers
            pool[name].eligible_worker_seconds = figures.eligible_worker_seconds

    pool_fairness = {name: fairness_of(_allocations(p)) for name, p in pools.items()}
    worst = min(
        pool_fairness.values(),
        key=lambda f: f.jain_index if f.jain_index is not None else math.inf,
        default=None,
    )
    overall = fairness_of(_allocations(regions))
    per_worker = fairness_of(_allocations(workers))
    region_of = {w: t.profile.region for w, t in tallies.items()}
    return {
        "policy": record.policy,
        "scenario": record.scenario,
        "completed": record.completed,
        "errors": list(record.errors),
        "duration_s": round(record.duration_s, 3),
        "drain_s": round(record.drain_s, 3),
        "tasks_submitted": len(record.tasks),
        "submit_failures": record.submit_failures,
        "tasks_completed": states["SUBMITTED"],
        "tasks_pending_at_end": sum(n for s, n in states.items() if s in PENDING_STATES),
        "tasks_lost": states[LOST],
        "tasks_by_state": dict(sorted(states.items())),
        "results_released": record.results_released,
        "ledger_balanced": record.ledger.balanced if record.ledger else None,
        "paid_onboarding_seconds": sum(f.paid_onboarding_seconds for f in regions.values()),
        "regions": {name: f.as_json() for name, f in sorted(regions.items())},
        "pools": {
            name: {
                "regions": {r: f.as_json() for r, f in sorted(pool.items())},
                "shares": _rounded(pool_fairness[name].shares),
                "jain_index": _finite(pool_fairness[name].jain_index),
                "max_min_share_ratio": _finite(pool_fairness[name].max_min_share_ratio),
            }
            for name, pool in sorted(pools.items())
        },
        "workers": [
            {"worker_id": w, "region": region_of[w], **_worker_row(workers[w])}
            for w in sorted(workers)
        ],
        "jain_index": _finite(worst.jain_index) if worst else None,
        "max_min_share_ratio": _finite(worst.max_min_share_ratio) if worst else None,
        "region_shares": _rounded(overall.shares),
        "overall_jain_index": _finite(overall.jain_index),
        "worker_jain_index": _finite(per_worker.jain_index),
        "worker_max_min_share_ratio": _finite(per_worker.max_min_share_ratio),
        "deadline_misses": _deadline_misses(record, feasible_only=False),
        "feasible_deadline_misses": _deadline_misses(record, feasible_only=True),
        "pay_rate_spread_usd": pay_rate_spread_usd(record.statements, region_of, paid_tasks),
        "below_floor_payments": below_floor_payments(
            record.statements.values(), record.pay_floor_micros_per_hour
        ),
        "ledger": _ledger_json(record),
        "escrow": record.escrow,
        "answers": _answers_json(record),
        "load": _load_json(record),
    }


def _copies_of(record: RunRecord) -> dict[str, SubmittedTask]:
    return {c: record.tasks[t] for c, t in record.copies.items() if t in record.tasks}


def _answers_given(
    record: RunRecord, tallies: dict[str, WorkerTally]
) -> list[tuple[str, SubmittedTask, WorkerTally]]:
    """(task or copy id, its platform task, who answered) for every answer given: a task's
    first answer as the dispatcher reports it; further answers as their workers sent them
    (the platform never asks for its copies' states)."""
    given: list[tuple[str, SubmittedTask, WorkerTally]] = []
    for task_id, task in record.tasks.items():
        final = record.final.get(task_id)
        done_by = tallies.get(final.worker_id) if final and final.state == "SUBMITTED" else None
        if done_by is not None:
            given.append((task_id, task, done_by))
    copies = _copies_of(record)
    for tally in tallies.values():
        given += [(c, copies[c], tally) for c in tally.submit_sent_at if c in copies]
    return given


def _answers_json(record: RunRecord) -> dict[str, Any]:
    """Tasks several workers answered: how many answers they took, and how often the released
    single answers and the aggregates were right (the demo knows each item's true label)."""
    aggregates = {t: a for t, a in record.aggregates.items() if t in record.truth}
    several = set(record.copies.values()) & record.tasks.keys()
    single = [
        answer == record.truth[t]
        for t, answers in record.answers.items()
        if t in aggregates
        for answer in answers
    ]
    right = [answer == record.truth[t] for t, (answer, _, _) in aggregates.items()]
    counts = [n for _, n, _ in aggregates.values()]
    return {
        "tasks_asking_several": len(several),
        "aggregated_and_released": len(aggregates),
        "confident": sum(1 for _, _, sure in aggregates.values() if sure),
        "mean_answers": round(sum(counts) / len(counts), 3) if counts else None,
        "answers_by_count": dict(sorted(Counter(counts).items())),
        "single_answer_accuracy": round(sum(single) / len(single), 4) if single else None,
        "aggregate_accuracy": round(sum(right) / len(right), 4) if right else None,
    }


def _add_presence(figures: _Figures, tally: WorkerTally, statement: Statement | None) -> None:
    figures.eligible_worker_seconds += tally.eligible_seconds
    figures.pushes_outside_window += tally.pushes_outside_window
    if statement is not None:
        figures.earnings_micros += statement.earned_micros
        figures.paid_seconds += statement.paid_seconds
        figures.paid_onboarding_seconds += onboarding_seconds(statement)


def _worker_row(f: _Figures) -> dict[str, Any]:
    return {
        "eligible_seconds": round(f.eligible_worker_seconds, 3),
        "work_seconds": f.work_seconds_assigned,
        "tasks_completed": f.tasks_completed,
        "earnings_usd": _usd(f.earnings_micros),
        "paid_seconds": f.paid_seconds,
        "pushes_outside_window": f.pushes_outside_window,
    }


def _allocations(figures: dict[str, _Figures]) -> dict[str, Allocation]:
    return {
        k: Allocation(f.work_seconds_assigned, f.eligible_worker_seconds)
        for k, f in figures.items()
    }


def _deadline_misses(record: RunRecord, *, feasible_only: bool) -> int:
    tallies = {w.profile.worker_id: w for w in record.workers}
    misses = 0
    for task_id, task in record.tasks.items():
        if feasible_only and (task.deadline - task.submitted_at).total_seconds() < (
            task.effort_seconds
        ):
            continue
        final = record.final.get(task_id)
        if final is not None and final.state == "SUBMITTED":
            tally = tallies.get(final.worker_id)
            done_at = tally.submit_sent_at.get(task_id) if tally else None
            misses += (done_at or record.ended_at) > task.deadline
        else:
            expired = final is not None and final.state == "EXPIRED"
            misses += expired or record.ended_at > task.deadline
    return misses


def _load_json(record: RunRecord) -> dict[str, Any]:
    """What the simulated platforms and workers saw, for diagnosing a run, not judging it."""
    tallies = record.workers
    latencies = sorted(record.submit_call_s)
    errors: Counter[str] = Counter()
    for t in tallies:
        errors.update(t.stream_errors)
    return {
        "offers": sum(t.offers for t in tallies),
        "declines": sum(t.declines for t in tallies),
        "offers_withdrawn": sum(t.withdrawn for t in tallies),
        "submits_accepted": sum(t.completed for t in tallies),
        "connects": sum(t.connects for t in tallies),
        "power_cuts": sum(t.power_cuts for t in tallies),
        "resumed_leases": sum(t.resumed_leases for t in tallies),
        "stream_errors": dict(sorted(errors.items())),
        "submit_calls": len(latencies),
        "submit_call_p50_s": round(latencies[len(latencies) // 2], 4) if latencies else None,
        "submit_call_max_s": round(latencies[-1], 4) if latencies else None,
    }


def _ledger_json(record: RunRecord) -> dict[str, Any] | None:
    ledger = record.ledger
    if ledger is None:
        return None
    return {
        "balanced": ledger.balanced,
        "postings": ledger.postings,
        "total_debits_usd": _usd(ledger.total_debits_micros),
        "total_credits_usd": _usd(ledger.total_credits_micros),
        # Whole-ledger totals: on a reused stack they include earlier runs.
        "regions": {
            r.region: {
                "earnings_usd": _usd(r.earnings_micros),
                "paid_seconds": r.paid_seconds,
                "tasks_paid": r.tasks_paid,
            }
            for r in sorted(ledger.regions, key=lambda r: r.region)
        },
    }


def _usd(micros: int) -> float:
    return round(micros / 1_000_000, 6)


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: an unbounded ratio (some share is 0) is reported as null."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, 6)


def _rounded(shares: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in sorted(shares.items())}
