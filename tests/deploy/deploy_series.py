"""The series the services export and the ones the recording rules make, for checking that
alerts and dashboard panels ask only for what exists."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"


def exported_metrics() -> set[str]:
    sources = [
        ROOT / "libs/runtime/src/fairtask_runtime/metrics.py",
        *(ROOT / "services").glob("*/src/*/metrics.py"),
    ]
    return {m for path in sources for m in re.findall(r'"(fairtask_[a-z_]+)"', path.read_text())}


def recorded_series() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def unknown_series(expr: str) -> set[str]:
    """Names in `expr` that no service exports and no recording rule records. Histograms are
    exported under their base name, queried with _bucket/_sum/_count."""
    exported = exported_metrics()
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"fairtask_[a-z_]+", expr)}
    recorded = set(re.findall(r"fairtask:[a-z_:0-9]+", expr))
    return (used - exported) | (recorded - recorded_series())
