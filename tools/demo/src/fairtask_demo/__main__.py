"""`python -m fairtask_demo run [--duration S] [--report out.json] [--stack-dir .stack]`, and
`python -m fairtask_demo chaos [--duration S] [--json out.json] [--seed N]`: the same load while
faults are injected, then an audit of what held."""

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path

from fairtask_demo.chaos.faults import ChaosPlan
from fairtask_demo.config import DemoConfig
from fairtask_demo.runner import run_demo

_CHAOS_DRAIN_S = 90.0
_CHAOS_SETTLE_S = 30.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fairtask_demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="local stack + services + demo load; prints progress and a fairness report"
    )
    run.add_argument("--duration", type=float, default=None, help="seconds (default: Ctrl-C)")
    run.add_argument("--report", type=Path, default=None, help="write the report JSON here")
    run.add_argument("--stack-dir", type=Path, default=Path(".stack"), help="stack data dir")
    run.add_argument("--seed", type=int, default=DemoConfig.seed)
    run.add_argument("--rate", type=float, default=DemoConfig.tasks_per_s, help="tasks/s")
    run.add_argument(
        "--workers-per-region", type=int, default=None, help="default: 15 in each region"
    )
    run.add_argument(
        "--time-scale",
        type=float,
        default=DemoConfig.time_scale,
        help="wall seconds per second of task effort",
    )
    run.add_argument("--policy", default=DemoConfig.policy, help="the dispatcher's policy name")
    run.add_argument(
        "--dashboard", type=Path, default=None, help="draw the dashboard's panels to this PNG"
    )
    chaos = commands.add_parser(
        "chaos", help="the demo load with faults injected at seeded random moments, audited"
    )
    chaos.add_argument(
        "--duration",
        type=float,
        default=180.0,
        help="seconds of load (180: every kind at least once)",
    )
    chaos.add_argument("--json", type=Path, default=None, help="write the chaos report here")
    chaos.add_argument("--stack-dir", type=Path, default=Path(".stack-chaos"))
    chaos.add_argument("--seed", type=int, default=ChaosPlan.seed)
    chaos.add_argument("--rate", type=float, default=10.0, help="tasks/s")
    chaos.add_argument(
        "--every", type=float, default=ChaosPlan.every_s, help="mean seconds between faults"
    )
    return parser


def config_from(args: argparse.Namespace) -> DemoConfig:
    if args.duration is not None and args.duration <= 0:
        raise SystemExit("--duration must be positive")
    if args.rate <= 0 or args.time_scale <= 0:
        raise SystemExit("--rate and --time-scale must be positive")
    config = DemoConfig(
        seed=args.seed,
        duration_s=args.duration,
        tasks_per_s=args.rate,
        time_scale=args.time_scale,
        policy=args.policy,
    )
    if args.workers_per_region is not None:
        if args.workers_per_region < 1:
            raise SystemExit("--workers-per-region must be at least 1")
        regions = tuple(
            dataclasses.replace(r, workers=args.workers_per_region) for r in config.regions
        )
        config = dataclasses.replace(config, regions=regions)
    return config


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "chaos":
        if args.duration <= 0 or args.rate <= 0 or args.every <= 0:
            raise SystemExit("--duration, --rate and --every must be positive")
        plan = ChaosPlan(seed=args.seed, every_s=args.every)
        # Longer waits at the end than `run`: a fault just before the end delays the last work.
        config = DemoConfig(
            seed=args.seed,
            duration_s=args.duration,
            tasks_per_s=args.rate,
            drain_s=_CHAOS_DRAIN_S,
            settle_s=_CHAOS_SETTLE_S,
        )
        return asyncio.run(run_demo(config, args.stack_dir, args.json, plan))
    config = config_from(args)
    return asyncio.run(run_demo(config, args.stack_dir, args.report, dashboard_png=args.dashboard))


if __name__ == "__main__":
    sys.exit(main())
