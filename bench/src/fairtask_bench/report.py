"""The benchmark's JSON: headline figures at the top, baselines and ratios, goals, details."""

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from fairtask_bench.latency_by_rate import latency_by_rate, summary_lines

# From the issue: what one dispatcher process should manage.
GOAL_OFFERS_PER_S = 5_000
GOAL_PUSH_P99_MS = 5.0
GOAL_SUBMIT_TO_OFFER_P99_MS = 25.0
GOAL_SHARE_OF_RAW_FLOOR = 0.5
GOAL_LATENCY_VS_POLL = 100.0


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cores": os.cpu_count(),
        "processor": model or platform.processor(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "shared": (
            "the load generator, Kafka, Redis, PostgreSQL and the server under test share "
            "these cores; each window's cpu block says who used how much, and "
            "machine_busy_share includes anyone else's work on the machine"
        ),
    }


def build(
    settings: dict[str, Any],
    ours: dict[str, Any],
    raw: dict[str, Any],
    poll: dict[str, Any],
    held: dict[str, Any],
    scheduler: dict[str, Any] | None,
) -> dict[str, Any]:
    steady = ours["at_rate"]
    poll_latency = poll["at_rate"]["delivery_latency_ms"]
    ours_latency = steady["submit_to_offer_ms"]
    ratios = {
        "throughput_vs_raw_floor": _ratio(ours["offers_per_second"], raw["offers_per_second"]),
        # Offers per second of the server's own CPU: the same comparison, less at the mercy of
        # whatever else shares the machine.
        "cpu_efficiency_vs_raw_floor": _ratio(
            ours["saturated"]["offers_per_server_core"], raw["saturated"]["offers_per_server_core"]
        ),
        "poll_latency_over_ours_p50": _ratio(poll_latency["p50"], ours_latency["p50"]),
        "poll_latency_over_ours_p99": _ratio(poll_latency["p99"], ours_latency["p99"]),
    }
    report: dict[str, Any] = {
        "machine": machine(),
        "settings": settings,
        "offers_per_second": ours["offers_per_second"],
        "push_latency_ms": {**steady["push_latency_ms"], "at_rate": steady["rate_per_second"]},
        "submit_to_offer_ms": {**ours_latency, "at_rate": steady["rate_per_second"]},
        "connections_held": held["connections_held"],
        "memory_per_connection_kib": held["memory_per_connection_kib"],
        "baselines": {
            "raw_floor": raw,
            "poll": {
                **poll,
                "delivery_latency_ms": {
                    **poll_latency,
                    "at_rate": poll["at_rate"]["rate_per_second"],
                },
            },
        },
        "ratios": ratios,
        "latency_by_rate": latency_by_rate(
            ours, raw, poll, GOAL_PUSH_P99_MS, GOAL_SUBMIT_TO_OFFER_P99_MS, GOAL_LATENCY_VS_POLL
        ),
        "dispatcher": ours,
        "connections": held,
    }
    report["goals"] = _goals(report)
    if scheduler is not None:
        report["scheduler"] = scheduler
    return report


def _ratio(top: float, bottom: float) -> float:
    return round(top / bottom, 3) if bottom else float("inf")


def _goals(r: dict[str, Any]) -> list[dict[str, Any]]:
    def goal(name: str, target: str, measured: float, met: bool) -> dict[str, Any]:
        return {"goal": name, "target": target, "measured": measured, "met": met}

    push_p99 = r["push_latency_ms"]["p99"]
    return [
        goal(
            "offers per second, one process",
            f">= {GOAL_OFFERS_PER_S}",
            r["offers_per_second"],
            r["offers_per_second"] >= GOAL_OFFERS_PER_S,
        ),
        goal(
            f"push p99 at {GOAL_OFFERS_PER_S} offers/s (ms)",
            f"<= {GOAL_PUSH_P99_MS} at {GOAL_OFFERS_PER_S}/s",
            push_p99,
            push_p99 <= GOAL_PUSH_P99_MS and r["push_latency_ms"]["at_rate"] >= GOAL_OFFERS_PER_S,
        ),
        goal(
            "submit-to-offer p99 (ms)",
            f"<= {GOAL_SUBMIT_TO_OFFER_P99_MS}",
            r["submit_to_offer_ms"]["p99"],
            r["submit_to_offer_ms"]["p99"] <= GOAL_SUBMIT_TO_OFFER_P99_MS,
        ),
        goal(
            "share of the raw floor's throughput",
            f">= {GOAL_SHARE_OF_RAW_FLOOR}",
            r["ratios"]["throughput_vs_raw_floor"],
            r["ratios"]["throughput_vs_raw_floor"] >= GOAL_SHARE_OF_RAW_FLOOR,
        ),
        goal(
            "poll delivery latency / ours (p50)",
            f">= {GOAL_LATENCY_VS_POLL}",
            r["ratios"]["poll_latency_over_ours_p50"],
            r["ratios"]["poll_latency_over_ours_p50"] >= GOAL_LATENCY_VS_POLL,
        ),
    ]


def summary(r: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    raw, poll = r["baselines"]["raw_floor"], r["baselines"]["poll"]
    push, s2o = r["push_latency_ms"], r["submit_to_offer_ms"]
    poll_ms = poll["delivery_latency_ms"]
    lines = [
        f"dispatcher: {r['offers_per_second']:,.0f} offers/s; at {push['at_rate']:,.0f}/s push "
        f"p50/p99 {push['p50']}/{push['p99']} ms, submit-to-offer {s2o['p50']}/{s2o['p99']} ms",
        f"raw floor:  {raw['offers_per_second']:,.0f} offers/s (ours is "
        f"{r['ratios']['throughput_vs_raw_floor']:.0%} of it)",
        f"poll:       {poll['offers_per_second']:,.0f} offers/s; delivery p50/p99 "
        f"{poll_ms['p50']}/{poll_ms['p99']} ms at {poll_ms['at_rate']:,.0f}/s "
        f"({r['ratios']['poll_latency_over_ours_p50']:,.2f}x ours at p50)",
        f"held:       {r['connections_held']:,} connections, "
        f"{r['memory_per_connection_kib']} KiB each; {r['connections']['offers_per_second']:,.0f} "
        f"offers/s while {r['connections']['working']:,} work",
        *summary_lines(r["latency_by_rate"]),
    ]
    lines += [
        f"goal {'met   ' if g['met'] else 'missed'} {g['goal']}: {g['measured']} "
        f"(target {g['target']})"
        for g in r["goals"]
    ]
    return "\n".join(lines)
