"""Scheduling decisions per second of the fair scheduler, on one core.

    uv run python bench/scheduler_bench.py [--json out.json] [--quick]

A decision is one OfferDecision produced by `decide`. To keep a steady state, every offer is
answered at once (most accepted and completed, some declined) and every completed task is
replaced by a new one, so the queue and the number of connected workers stay constant.
Reported:
- the headline: with 10,000 connected workers and 100,000 queued tasks, scheduling decisions
  per second (`decide` alone: choosing worker and task, charging, recording the offer), and
  the full cycle per decision (decide, accepted + completed or declined, and the replacement
  submit; building the replacement TaskSpec is the caller's work and is not timed);
- flatness: the cost per decision (microseconds, full cycle) for 100, 1,000, 10,000 and 100,000
  connected workers, each with 100,000 queued tasks.
Workers are spread over 10 regions and 4 pools (skills), and always inside their window, so
every idle worker can be offered something: the benchmark measures the decision path, not
waiting. The clock advances one second per round.
Times are the process's CPU time (time.process_time), and each figure is the best of
`--repeat` runs (3 by default), as timeit does: on a shared machine the fastest run is the one
least disturbed by other work.
"""

import argparse
import gc
import importlib
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from dispatcher.domain.scheduling.policy import DispatchPolicy, TaskSpec, Window, WorkerProfile

REGIONS = 10
POOLS = (("label", ()), ("en", ("en",)), ("es", ("es",)), ("code", ("en", "code")))
ALWAYS = (Window(0, 24 * 60),)
DECLINE_SHARE = 0.05
SCHEDULER_MODULES = (
    "dispatcher.domain.scheduling.scheduler",
    "dispatcher.domain.scheduling.fair_share",
)


def fair_scheduler_factory() -> Callable[[], DispatchPolicy]:
    for name in SCHEDULER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        factory = getattr(module, "FairScheduler", None)
        if factory is not None:
            return factory  # type: ignore[no-any-return]
    raise SystemExit(f"no FairScheduler in {SCHEDULER_MODULES}")


def compiled() -> bool:
    module = importlib.import_module(fair_scheduler_factory().__module__)
    return str(module.__file__).endswith(".so")


def make_worker(index: int, rng: random.Random) -> WorkerProfile:
    skills = {"en"} if rng.random() < 0.8 else {"es"}
    if rng.random() < 0.3:
        skills.add("es")
    if "en" in skills and rng.random() < 0.3:
        skills.add("code")
    return WorkerProfile(
        worker_id=f"w{index:06d}",
        region=f"r{index % REGIONS}",
        utc_offset_s=3600 * (index % REGIONS) - 5 * 3600,
        windows=ALWAYS,
        skills=frozenset(skills),
    )


class TaskSource:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next = 0

    def make(self, now: float) -> TaskSpec:
        self._next += 1
        pool, skills = POOLS[self._next % len(POOLS)]
        return TaskSpec(
            task_id=f"t{self._next}",
            pool=pool,
            platform=f"p{self._next % 3}",
            effort_s=float(60 + self._next % 7 * 30),
            arrived_at=now,
            deadline_at=now + 7 * 86_400.0,
            skills=skills,
        )


def run(workers: int, tasks: int, min_decisions: int, seed: int = 1) -> dict[str, float]:
    """Sets up `workers` connected workers and `tasks` queued tasks, then runs rounds until at
    least `min_decisions` decisions were made; returns the timings."""
    rng = random.Random(seed)
    policy = fair_scheduler_factory()()
    source = TaskSource(rng)
    now = 0.0
    started = time.process_time()
    for index in range(workers):
        policy.worker_online(make_worker(index, rng), now)
    for _ in range(tasks):
        policy.submit(source.make(now), now)
    setup_s = time.process_time() - started
    # Answers are drawn up front so the random draws are not timed.
    declines = [rng.random() < DECLINE_SHARE for _ in range(4096)]
    decide_s = answer_s = 0.0
    decisions = rounds = 0
    gc.collect()
    gc.disable()  # a steady state allocates little; collection pauses are noise here
    try:
        while decisions < min_decisions:
            now += 1.0
            t0 = time.process_time()
            made = policy.decide(now)
            t1 = time.process_time()
            completed = 0
            for i, decision in enumerate(made):
                worker_id, task_id = decision.worker_id, decision.task_id
                if declines[(decisions + i) & 4095]:
                    policy.declined(worker_id, task_id, now)
                else:
                    policy.accepted(worker_id, task_id, now)
                    policy.completed(worker_id, task_id, 60.0, now)
                    completed += 1
            t2 = time.process_time()
            # Replacements are built untimed (that is the caller's work), submitted timed.
            fresh = [source.make(now) for _ in range(completed)]
            t3 = time.process_time()
            for spec in fresh:
                policy.submit(spec, now)
            t4 = time.process_time()
            if not made:
                raise SystemExit(f"no decisions at round {rounds}: the benchmark is not steady")
            decide_s += t1 - t0
            answer_s += (t2 - t1) + (t4 - t3)
            decisions += len(made)
            rounds += 1
    finally:
        gc.enable()
    total_s = decide_s + answer_s
    return {
        "workers": workers,
        "queued_tasks": tasks,
        "rounds": rounds,
        "decisions": decisions,
        "setup_s": round(setup_s, 3),
        "decisions_per_s": round(decisions / total_s),
        "decide_only_decisions_per_s": round(decisions / decide_s),
        "us_per_decision": round(total_s / decisions * 1e6, 3),
        "decide_us_per_decision": round(decide_s / decisions * 1e6, 3),
    }


def best_of(repeat: int, workers: int, tasks: int, min_decisions: int) -> dict[str, float]:
    runs = [run(workers, tasks, min_decisions) for _ in range(max(repeat, 1))]
    return max(runs, key=lambda r: r["decide_only_decisions_per_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts")
    args = parser.parse_args(argv)
    tasks = 10_000 if args.quick else 100_000
    headline_decisions = 50_000 if args.quick else 1_000_000
    flat_decisions = 20_000 if args.quick else 300_000
    sizes = (100, 1_000, 10_000) if args.quick else (100, 1_000, 10_000, 100_000)

    headline = best_of(args.repeat, 10_000, tasks, headline_decisions)
    print(
        f"10,000 workers, {tasks:,} queued tasks "
        f"({'compiled' if compiled() else 'pure Python'}): "
        f"{headline['decide_only_decisions_per_s']:,.0f} scheduling decisions/s; "
        f"full cycle {headline['decisions_per_s']:,.0f}/s ({headline['us_per_decision']} us)"
    )
    flatness: list[dict[str, float]] = []
    print(f"{'workers':>8} {'decide us':>10} {'cycle us':>10} {'decisions/s':>12}")
    for workers in sizes:
        row = best_of(args.repeat, workers, tasks, max(flat_decisions, 3 * workers))
        flatness.append(row)
        print(
            f"{workers:>8,} {row['decide_us_per_decision']:>10} {row['us_per_decision']:>10} "
            f"{row['decide_only_decisions_per_s']:>12,.0f}"
        )
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        # mypyc-compiled scheduling core (scripts/build_native.sh) or pure Python
        "compiled": compiled(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "headline": headline,
        "flatness": flatness,
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
