"""The scheduler benchmark runs and reports every figure (speed itself is measured by
`make bench`, not asserted here)."""

import importlib.util
import json
import pathlib
from types import ModuleType

BENCH = pathlib.Path(__file__).parents[2] / "bench" / "scheduler_bench.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scheduler_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quick_run_reports_the_headline_and_the_flatness_table(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "bench.json"
    assert load_bench().main(["--quick", "--repeat", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert isinstance(report["compiled"], bool)
    headline = report["headline"]
    assert headline["workers"] == 10_000
    assert headline["decisions"] >= 50_000
    assert headline["decide_only_decisions_per_s"] > headline["decisions_per_s"] > 0
    assert [row["workers"] for row in report["flatness"]] == [100, 1_000, 10_000]
    assert all(
        row["us_per_decision"] > row["decide_us_per_decision"] > 0 for row in report["flatness"]
    )
