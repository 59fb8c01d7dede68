"""What the demo prints: the live progress line and the final human-readable report."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    submitted: int
    offered: int
    completed: int
    results_released: int
    connected_workers: int
    total_workers: int
    completed_by_region: Mapping[str, int]


def progress_line(p: Progress) -> str:
    regions = " ".join(f"{name}={n}" for name, n in sorted(p.completed_by_region.items()))
    return (
        f"[{p.elapsed_s:7.1f}s] submitted={p.submitted} offered={p.offered} "
        f"completed={p.completed} released={p.results_released} "
        f"workers={p.connected_workers}/{p.total_workers} | completed by region: {regions}"
    )


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def report_text(report: Mapping[str, Any]) -> str:
    lines = [
        "",
        f"=== fairtask demo report: scenario {report['scenario']}, policy {report['policy']}, "
        f"{report['duration_s']:.0f} s ===",
        f"tasks: submitted {report['tasks_submitted']}, completed {report['tasks_completed']}, "
        f"pending at end {report['tasks_pending_at_end']}, lost {report['tasks_lost']}, "
        f"submit failures {report['submit_failures']}",
        f"results released {report['results_released']}; "
        f"ledger balanced: {_num(report['ledger_balanced'])}",
        "",
        f"{'region':<8}{'workers':>8}{'eligible s':>12}{'work s':>10}{'tasks':>8}"
        f"{'earned $':>11}{'$/h':>9}{'share':>8}{'outside':>9}{'night s':>9}",
    ]
    shares = report.get("region_shares", {})
    for name, r in report["regions"].items():
        lines.append(
            f"{name:<8}{r['workers']:>8}{r['eligible_worker_seconds']:>12.0f}"
            f"{r['work_seconds_assigned']:>10}{r['tasks_completed']:>8}"
            f"{r['earnings_usd']:>11.2f}{_num(r['effective_hourly_usd'], 2):>9}"
            f"{_num(shares.get(name)):>8}{r['pushes_outside_window']:>9}"
            f"{r['night_work_seconds']:>9}"
        )
    lines += [
        "",
        "fairness (worst pool): "
        f"Jain {_num(report['jain_index'], 4)}, "
        f"max/min share {_num(report['max_min_share_ratio'])}; "
        f"over workers: Jain {_num(report['worker_jain_index'], 4)}",
    ]
    for name, pool in report["pools"].items():
        lines.append(
            f"  pool {name}: Jain {_num(pool['jain_index'], 4)}, "
            f"max/min {_num(pool['max_min_share_ratio'])}, shares {pool['shares']}"
        )
    lines += [
        f"deadline misses {report['deadline_misses']} "
        f"(feasible {report['feasible_deadline_misses']}); "
        f"pay rate spread ${report['pay_rate_spread_usd']:.4f}; "
        f"payments below floor {report['below_floor_payments']}; "
        f"paid onboarding {report['paid_onboarding_seconds']} s",
    ]
    for platform, e in report.get("escrow", {}).items():
        lines.append(
            f"escrow {platform}: deposited ${e['deposited_micros'] / 1e6:,.2f}, "
            f"paid out ${e['spent_micros'] / 1e6:,.2f}, held ${e['held_micros'] / 1e6:,.2f}"
        )
    answers = report.get("answers") or {}
    if answers.get("aggregated_and_released"):
        lines.append(
            f"several answers: {answers['aggregated_and_released']} of "
            f"{answers['tasks_asking_several']} tasks aggregated and released, "
            f"{_num(answers['mean_answers'])} answers each {answers['answers_by_count']}, "
            f"{answers['confident']} confident; right: single answers "
            f"{_num(answers['single_answer_accuracy'])}, aggregates "
            f"{_num(answers['aggregate_accuracy'])}"
        )
    if (prometheus := report.get("prometheus")) is not None:
        lines.append(
            f"prometheus ({prometheus['url']}): Jain {_num(prometheus['jain_index'])}, "
            f"region shares {prometheus['region_shares']}"
        )
    if report["errors"]:
        lines += ["", "errors:", *(f"  - {e}" for e in report["errors"])]
    return "\n".join(lines)
