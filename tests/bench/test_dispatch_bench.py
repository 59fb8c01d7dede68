"""The benchmark's quick mode on the real stack: every figure is there and makes sense.

Speed itself is what the benchmark measures; nothing here asserts a timing.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def latency(figures: dict[str, Any]) -> None:
    assert 0 < figures["p50"] <= figures["p99"] <= figures["max"]
    assert figures["samples"] > 0


def ladder(run: dict[str, Any], wanted: list[float]) -> list[float]:
    """A push run's ladder: every wanted rate measured or skipped (above the cap), ascending."""
    rates = [step["rate_per_second"] for step in run["ladder"]]
    assert rates == sorted(rates)
    assert sorted(rates + run["ladder_skipped_per_second"]) == wanted
    assert all(rate <= run["ladder_cap_per_second"] for rate in rates)
    assert all(rate > run["ladder_cap_per_second"] for rate in run["ladder_skipped_per_second"])
    for step in run["ladder"]:
        latency(step["push_latency_ms"])
        latency(step["submit_to_offer_ms"])
        assert step["offers_per_second"] > 0
        assert step["worker_errors"] == {}
    return rates


def test_the_quick_benchmark_reports_every_figure(stack_endpoints: Any, tmp_path: Path) -> None:
    env, out = tmp_path / "env", tmp_path / "bench.json"
    stack_endpoints.save(env)

    command = [sys.executable, "-m", "fairtask_bench", "--quick", "--stack-env", str(env)]
    subprocess.run([*command, "--json", str(out)], check=True, timeout=240)

    r = json.loads(out.read_text())
    assert r["machine"]["cores"] >= 1
    assert r["offers_per_second"] > 0
    latency(r["push_latency_ms"])
    latency(r["submit_to_offer_ms"])
    assert 0 < r["push_latency_ms"]["at_rate"] <= r["offers_per_second"]
    assert r["connections_held"] == r["settings"]["connections"]
    assert r["memory_per_connection_kib"] > 0
    raw, poll = r["baselines"]["raw_floor"], r["baselines"]["poll"]
    assert raw["offers_per_second"] > 0
    assert poll["offers_per_second"] > 0
    latency(poll["delivery_latency_ms"])
    ratios = r["ratios"]
    assert ratios["throughput_vs_raw_floor"] == round(
        r["offers_per_second"] / raw["offers_per_second"], 3
    )
    assert ratios["poll_latency_over_ours_p50"] > 0
    assert ratios["poll_latency_over_ours_p99"] > 0
    assert len(r["goals"]) == 5
    assert all(isinstance(goal["met"], bool) for goal in r["goals"])
    # Every simulated worker's answer was taken: no error came back on any connection.
    for run in (r["dispatcher"], raw, r["connections"]):
        assert run["saturated"]["worker_errors"] == {}
        assert run["at_rate"]["worker_errors"] == {}
    assert r["scheduler"]["headline"]["decisions_per_s"] > 0

    wanted = r["settings"]["latency_ladder_per_second"]
    ours_rates, raw_rates = ladder(r["dispatcher"], wanted), ladder(raw, wanted)
    by_rate = r["latency_by_rate"]
    rates = [step["rate_per_second"] for step in by_rate["rates"]]
    assert rates, "neither server was measured at any ladder rate"
    assert rates == sorted(set(ours_rates + raw_rates))
    for step in by_rate["rates"]:
        for side in (step["ours"], step["raw_floor"]):
            if side is not None:
                assert 0 < side["push_ms"]["p50"] <= side["push_ms"]["p99"]
                assert 0 < side["submit_to_offer_ms"]["p50"] <= side["submit_to_offer_ms"]["p99"]
                assert side["push_ms"]["samples"] > 0
    assert by_rate["push_p99_met_up_to_per_second"] in [None, *ours_rates]
    assert by_rate["submit_to_offer_p99_met_up_to_per_second"] in [None, *ours_rates]
    # The poll queue at every rate the dispatcher was measured at, and the two compared.
    assert [step["rate_per_second"] for step in poll["ladder"]] == ours_rates
    for step in by_rate["rates"]:
        if step["ours"] is not None:
            assert step["poll"]["delivery_ms"]["samples"] > 0
            assert 0 < step["poll"]["delivery_ms"]["p50"] <= step["poll"]["delivery_ms"]["p99"]
            assert step["poll_over_ours_p50"] == round(
                step["poll"]["delivery_ms"]["p50"] / step["ours"]["submit_to_offer_ms"]["p50"], 1
            )
    assert by_rate["poll_over_ours_met_up_to_per_second"] in [None, *ours_rates]
