"""The command line: a run, a comparison, a plot, and the errors people will make."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fairtask_sim.cli import EXIT_BAD_INPUT, EXIT_POLICY_UNAVAILABLE, main
from fairtask_sim.policies import fair_available

FAIR_AVAILABLE = fair_available()


@pytest.fixture
def scenario_file(tmp_path: Path, tiny_data: dict[str, Any]) -> Path:
    tiny_data["duration_hours"] = 24
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_data), encoding="utf-8")
    return path


def test_run_prints_a_summary_and_writes_the_report(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    code = main(
        ["--scenario", str(scenario_file), "--policy", "fcfs", "--json", str(out), "--seed", "3"]
    )
    assert code == 0
    assert "policy fcfs" in capsys.readouterr().out
    report = json.loads(out.read_text(encoding="utf-8"))
    assert (report["policy"], report["scenario"], report["seed"]) == ("fcfs", "tiny", 3)


def test_compare_writes_the_table(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, out = tmp_path / "table.md", tmp_path / "all.json"
    code = main(
        [
            "compare",
            "--scenarios",
            str(scenario_file),
            "--policies",
            "fcfs",
            "poll",
            "--markdown",
            str(table),
            "--json",
            str(out),
        ]
    )
    assert code == 0
    text = table.read_text(encoding="utf-8")
    assert text.startswith("| scenario | policy | Jain (worst pool) | max/min |")
    assert "| tiny | fcfs |" in text
    assert "| tiny | poll |" in text
    assert text in capsys.readouterr().out
    runs = json.loads(out.read_text(encoding="utf-8"))
    assert [r["policy"] for r in runs] == ["fcfs", "poll"]
    assert "workers" not in runs[0]


def test_plot_writes_a_png(scenario_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "shares.png"
    assert (
        main(
            [
                "plot",
                "--scenario",
                str(scenario_file),
                "--png",
                str(png),
                "--policies",
                "fcfs",
                "poll",
            ]
        )
        == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_invalid_scenario_names_the_field(
    tmp_path: Path, tiny_data: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    tiny_data["regions"][0]["availability"] = ["8-12"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_data), encoding="utf-8")
    assert main(["--scenario", str(path), "--policy", "poll"]) == EXIT_BAD_INPUT
    assert 'regions[0].availability[0]: "8-12" is not HH:MM-HH:MM' in capsys.readouterr().err


def test_fair_missing_is_a_clear_error(
    scenario_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import fairtask_sim.policies as registry

    # As on a checkout without the scheduler: every place it may live fails to import.
    monkeypatch.setattr(registry, "FAIR_SCHEDULER_PATHS", ("no_such_module.FairScheduler",))
    assert main(["--scenario", str(scenario_file), "--policy", "fair"]) == EXIT_POLICY_UNAVAILABLE
    assert "no_such_module.FairScheduler" in capsys.readouterr().err


def test_unknown_policy_is_refused(scenario_file: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--scenario", str(scenario_file), "--policy", "lottery"])
    assert caught.value.code == 2
