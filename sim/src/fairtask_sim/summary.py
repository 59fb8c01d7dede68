"""A short human summary of one run's report."""

from fairtask_sim.report import Report


def _fmt(value: object, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def summary_lines(report: Report) -> list[str]:
    r = report
    lines = [
        f"scenario {r['scenario']}  policy {r['policy']}  seed {r['seed']}  "
        f"{r['duration_hours']:g} h simulated in {r['wall_seconds']:.1f} s "
        f"({r['cpu_seconds']:.1f} s CPU)",
        f"  worst pool {r['worst_pool']}: Jain {_fmt(r['jain_index'])}  "
        f"max/min {_fmt(r['max_min_share_ratio'], 3)}  "
        f"worker Jain {_fmt(r['worker_jain_index'])}",
        f"  tasks {r['tasks_submitted']} submitted, {r['tasks_completed']} completed, "
        f"{r['tasks_pending_at_end']} pending, {r['tasks_lost']} lost;  "
        f"load {_fmt(r['load'], 3)}",
        f"  deadline misses {r['deadline_misses']} "
        f"(feasible {r['feasible_deadline_misses']})  "
        f"pushes outside window {r['pushes_outside_window']}  "
        f"night work {r['night_work_seconds'] / 3600:.1f} h  "
        f"exposure cap exceeded {r['exposure_cap_exceeded']}",
        f"  first offer after wake-up: max {_fmt(r['first_offer_delay_max_s'], 1)} s  "
        f"pay spread ${_fmt(r['pay_rate_spread_usd'], 2)}/h  leases lost {r['leases_lost']}",
    ]
    for name, pool in r["pools"].items():
        shares = ", ".join(f"{k} {_fmt(v.get('share'), 3)}" for k, v in pool["regions"].items())
        lines.append(
            f"  pool {name}: Jain {_fmt(pool['jain_index'])} "
            f"max/min {_fmt(pool['max_min_share_ratio'], 3)}  [{shares}]"
        )
    return lines
