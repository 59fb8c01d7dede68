"""The short chaos run of `make test`: the demo load on a stack of its own while faults are
injected, and the audit says nothing was lost, leased twice, paid twice or left unpaid."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.timeout(600)
def test_a_short_chaos_run_loses_nothing_and_pays_each_task_once(
    stack_dir: Path, tmp_path: Path
) -> None:
    report_path = tmp_path / "chaos.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "fairtask_demo", "chaos"),
            *("--duration", "45", "--every", "4", "--seed", "11"),
            *("--json", str(report_path), "--stack-dir", str(stack_dir / "stack")),
        ],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert report_path.exists(), f"no report; exit {done.returncode}:\n{done.stdout[-4000:]}"
    report = json.loads(report_path.read_text())
    summary = json.dumps({k: v for k, v in report.items() if k not in ("faults", "run")})

    assert report["faults_total"] >= 3, summary
    assert report["tasks_submitted"] > 0, summary
    assert report["tasks_lost"] == 0, summary
    assert report["double_leases"] == 0, summary
    assert report["duplicate_payments"] == 0, summary
    assert report["missing_payments"] == 0, summary
    # Further answers to tasks several workers answer: none lost between scoring's request,
    # the dispatcher's queue and a worker, and every such task settled.
    assert report["answers_asked"] > 0, summary
    assert report["answers_never_queued"] == 0, summary
    assert report["answers_never_answered"] == 0, summary
    assert report["tasks_never_aggregated"] == 0, summary
    assert report["ledger_balanced"] is True, summary
    assert report["services_recovered"] is True, summary
    assert report["passed"] is True, summary
    assert done.returncode == 0, done.stdout[-4000:]
