"""`make run` as a user runs it (shorter): the local stack, the services, the demo load, and a
real Prometheus scraping them with the project's rules, whose fairness series the report
reads back."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.timeout(400)
def test_a_short_run_reports_and_prometheus_has_the_fairness_series(
    stack_dir: Path, tmp_path: Path
) -> None:
    report_path = tmp_path / "report.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "fairtask_demo", "run", "--duration", "20"),
            *("--report", str(report_path), "--stack-dir", str(stack_dir / "stack")),
        ],
        capture_output=True,
        text=True,
        timeout=360,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    report = json.loads(report_path.read_text())

    assert report["tasks_completed"] == report["tasks_submitted"] > 0
    assert report["tasks_lost"] == 0
    assert report["ledger_balanced"] is True
    prometheus = report["prometheus"]
    assert prometheus["url"] in done.stdout  # printed where it is
    assert set(prometheus["region_shares"]) == set(report["regions"])
    assert prometheus["jain_index"] >= 0.95
