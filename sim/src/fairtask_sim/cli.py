"""Command line: run one scenario, compare policies, or plot shares over time.

python -m fairtask_sim --scenario FILE --policy fair|fcfs|poll [--json OUT] [--seed N]
python -m fairtask_sim compare --scenarios FILE... [--json OUT] [--markdown OUT] [--seed N]
python -m fairtask_sim plot --scenario FILE --png OUT [--seed N]
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fairtask_sim.compare import compare, headline, markdown_table, run_one
from fairtask_sim.plot import plot_shares
from fairtask_sim.policies import POLICY_NAMES, PolicyUnavailableError
from fairtask_sim.scenario import ScenarioError, load_scenario
from fairtask_sim.summary import summary_lines

EXIT_BAD_INPUT = 2
EXIT_POLICY_UNAVAILABLE = 3


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "compare":
            return _compare(_compare_parser().parse_args(args[1:]))
        if args and args[0] == "plot":
            return _plot(_plot_parser().parse_args(args[1:]))
        return _run(_run_parser().parse_args(args))
    except ScenarioError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    except PolicyUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_POLICY_UNAVAILABLE


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fairtask_sim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", required=True, type=Path)
    parser.add_argument("--policy", required=True, choices=POLICY_NAMES)
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--seed", type=int, help="overrides the scenario's seed")
    return parser


def _compare_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fairtask_sim compare")
    parser.add_argument("--scenarios", required=True, nargs="+", type=Path)
    parser.add_argument("--policies", nargs="+", choices=POLICY_NAMES, default=list(POLICY_NAMES))
    parser.add_argument("--json", type=Path, help="headline figures of every run")
    parser.add_argument("--markdown", type=Path, help="the scenario x policy table")
    parser.add_argument("--seed", type=int, help="overrides every scenario's seed")
    return parser


def _plot_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fairtask_sim plot")
    parser.add_argument("--scenario", required=True, type=Path)
    parser.add_argument("--png", required=True, type=Path)
    parser.add_argument("--policies", nargs="+", choices=POLICY_NAMES, default=["fair", "fcfs"])
    parser.add_argument("--seed", type=int)
    return parser


def _run(args: argparse.Namespace) -> int:
    report = run_one(load_scenario(args.scenario), args.policy, args.seed)
    print("\n".join(summary_lines(report)))
    if args.json is not None:
        _write_json(args.json, report)
    return 0


def _compare(args: argparse.Namespace) -> int:
    scenarios = [load_scenario(path) for path in args.scenarios]
    reports = []
    for scenario in scenarios:
        for policy in args.policies:
            reports.extend(compare([scenario], [policy], args.seed))
            print(
                f"ran {scenario.name} / {policy} in {reports[-1]['wall_seconds']:.1f} s",
                file=sys.stderr,
            )
    table = markdown_table(reports)
    print(table, end="")
    if args.markdown is not None:
        args.markdown.write_text(table, encoding="utf-8")
    if args.json is not None:
        _write_json(args.json, [headline(r) for r in reports])
    return 0


def _plot(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    reports = [run_one(scenario, policy, args.seed) for policy in args.policies]
    plot_shares(reports, args.png)
    print(f"wrote {args.png}")
    return 0


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
