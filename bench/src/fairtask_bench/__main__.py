"""`python -m fairtask_bench [--json out.json] [--quick]`: the dispatcher on the real stack.

In one run, on the local Kafka, Redis and PostgreSQL: the scheduler core alone
(bench/scheduler_bench.py), the dispatcher (offers per second through one process, push and
submit-to-offer delays at a set rate and at a ladder of ordinary ones), the raw pipeline floor
and the PostgreSQL poll queue under the same load, and many connections held by one dispatcher
while some of them work.
"""

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from fairtask_bench import report
from fairtask_bench.connections import ConnectionLoad, connections_run
from fairtask_bench.kafka_warmup import warm_up_kafka
from fairtask_bench.measure import LATENCY_SHARE, Ladder, Timing
from fairtask_bench.poll import PollLoad, poll_run
from fairtask_bench.push_run import PushLoad, push_run
from fairtask_bench.stack import BenchStack, bench_stack


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fairtask_bench", description=__doc__)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="a smoke test of under a minute")
    parser.add_argument("--stack-dir", type=Path, default=Path(".stack"), help="(.stack)")
    parser.add_argument("--stack-env", type=Path, help="use the running stack of this env file")
    parser.add_argument("--clients", type=int, default=3, help="load processes (3)")
    parser.add_argument("--profile", type=Path, help="py-spy each server into this directory")
    parser.add_argument("--logs", type=Path, help="server logs here (a temporary directory)")
    parser.add_argument("--no-scheduler", action="store_true", help="skip bench/scheduler_bench.py")
    return parser


def settings(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    return {
        "quick": quick,
        "clients": args.clients,
        "push_workers": 100 if quick else 1_000,
        "poll_workers": 100 if quick else 1_000,
        "poll_interval_s": 3.0,
        "poll_connections_per_client": 10,
        "connections": 300 if quick else 10_000,
        "working_connections": 30 if quick else 1_000,
        # Delays are measured at this rate, or at this share of the most sustained if lower.
        "latency_rate_per_second": report.GOAL_OFFERS_PER_S,
        "latency_share_of_max": LATENCY_SHARE,
        # And at these ordinary rates, in shorter windows, skipping any above that share.
        "latency_ladder_per_second": [50, 100] if quick else [20, 100, 200, 400],
        "ladder_warmup_s": 0.5 if quick else 2.0,
        "ladder_window_s": 1.5 if quick else 8.0,
        "warmup_s": 1.0 if quick else 5.0,
        "window_s": 2.0 if quick else 15.0,
        "backlog": 300 if quick else 3_000,
        # Traffic through Kafka before the first measurement (fairtask_bench.kafka_warmup).
        "kafka_warmup_s": 1.0 if quick else 60.0,
    }


def scheduler_figures(root: Path, quick: bool) -> dict[str, Any]:
    """bench/scheduler_bench.py's own JSON, from its own process (run before the stack)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scheduler.json"
        argv = [sys.executable, str(root / "bench" / "scheduler_bench.py"), "--json", str(out)]
        # Quick: one run per figure instead of the best of several.
        subprocess.run([*argv, *(["--quick", "--repeat", "1"] if quick else [])], check=True)
        figures: dict[str, Any] = json.loads(out.read_text())
        return figures


async def measure(
    args: argparse.Namespace, stack: BenchStack, s: dict[str, Any], logs: Path
) -> dict[str, Any]:
    timing = Timing(s["warmup_s"], s["window_s"], s["backlog"])
    ladder = Ladder(
        tuple(s["latency_ladder_per_second"]),
        Timing(s["ladder_warmup_s"], s["ladder_window_s"], s["backlog"]),
    )
    push = PushLoad(
        s["clients"], s["push_workers"], timing, s["latency_rate_per_second"], ladder, args.profile
    )
    print(f"kafka: warming up for {s['kafka_warmup_s']:.0f} s ...", flush=True)
    await warm_up_kafka(stack.endpoints.kafka_bootstrap, s["kafka_warmup_s"])
    print("dispatcher: saturating, then at a set rate, then up the ladder ...", flush=True)
    ours = await push_run("dispatcher", stack, push, logs)
    # The baselines at the rate the dispatcher's delays were measured at (and the same ladder).
    same_rate = ours["at_rate"]["rate_per_second"]
    print("raw floor ...", flush=True)
    raw = await push_run(
        "fairtask_bench.raw_floor",
        stack,
        PushLoad(s["clients"], s["push_workers"], timing, same_rate, ladder, args.profile),
        logs,
    )
    print("poll baseline ...", flush=True)
    poll_load = PollLoad(
        s["clients"],
        s["poll_workers"],
        s["poll_connections_per_client"],
        s["poll_interval_s"],
        timing,
    )
    ours_rungs = [step["rate_per_second"] for step in ours["ladder"]]
    poll = await poll_run(stack, poll_load, same_rate, ladder, ours_rungs)
    print(f"{s['connections']:,} connections ...", flush=True)
    held_load = ConnectionLoad(
        s["clients"],
        s["connections"],
        s["working_connections"],
        timing,
        s["latency_rate_per_second"],
    )
    held = await connections_run(stack, held_load, logs, args.profile)
    return {"ours": ours, "raw": raw, "poll": poll, "held": held}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    s = settings(args)
    async with bench_stack(args.stack_dir, args.stack_env) as stack:
        scheduler = None if args.no_scheduler else scheduler_figures(stack.root, args.quick)
        with tempfile.TemporaryDirectory(prefix="fairtask-bench-") as tmp:
            logs = args.logs or Path(tmp)
            found = await measure(args, stack, s, logs)
    return report.build(s, found["ours"], found["raw"], found["poll"], found["held"], scheduler)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    figures = asyncio.run(run(args))
    print(report.summary(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
