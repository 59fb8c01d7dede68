"""Running scenarios under policies, alone or side by side, and the comparison table."""

from collections.abc import Iterable, Sequence

from fairtask_sim.engine import Simulation
from fairtask_sim.policies import POLICY_NAMES, make_policy
from fairtask_sim.report import Report, build_report
from fairtask_sim.scenario import Scenario


def run_one(scenario: Scenario, policy_name: str, seed: int | None = None) -> Report:
    used_seed = scenario.seed if seed is None else seed
    policy = make_policy(policy_name, scenario, used_seed)
    return build_report(Simulation(scenario, policy, used_seed).run())


def compare(
    scenarios: Iterable[Scenario],
    policies: Sequence[str] = POLICY_NAMES,
    seed: int | None = None,
) -> list[Report]:
    """Every scenario under every policy, with the same seed for all policies of a scenario."""
    return [run_one(s, policy, seed) for s in scenarios for policy in policies]


def headline(report: Report) -> Report:
    """A report without its per-worker rows and timeline, for the comparison JSON."""
    return {k: v for k, v in report.items() if k not in ("workers", "timeline")}


_COLUMNS = (
    "scenario",
    "policy",
    "Jain (worst pool)",
    "max/min",
    "feasible misses",
    "pushes outside window",
    "night work h",
    "tasks pending",
    "wall s",
)


def markdown_table(reports: Iterable[Report]) -> str:
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for r in reports:
        cells = [
            r["scenario"],
            r["policy"],
            _fixed(r["jain_index"], 4),
            _fixed(r["max_min_share_ratio"], 3, missing="inf"),
            str(r["feasible_deadline_misses"]),
            str(r["pushes_outside_window"]),
            f"{r['night_work_seconds'] / 3600:.1f}",
            str(r["tasks_pending_at_end"]),
            f"{r['wall_seconds']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fixed(value: float | None, digits: int, missing: str = "n/a") -> str:
    return missing if value is None else f"{value:.{digits}f}"
