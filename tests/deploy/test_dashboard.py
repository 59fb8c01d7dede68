"""The Grafana dashboard (deploy/grafana/fairtask.json) is valid and asks only for series that
exist, in PromQL that parses: fairness, offers and latency, queues and lag, pay and welfare."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_series import ROOT, unknown_series

DASHBOARD = ROOT / "deploy" / "grafana" / "fairtask.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def graphs(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_panels_have_unique_ids_titles_and_queries(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in graphs(dashboard):
        assert panel["title"], panel["id"]
        assert panel["targets"], panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]


def test_it_shows_fairness_offers_lag_and_pay(dashboard: dict[str, Any]) -> None:
    queries = " ".join(t["expr"] for p in graphs(dashboard) for t in p["targets"])
    for series in (
        "fairtask:region_share:ratio15m",
        "fairtask:jain_index:ratio15m",
        "fairtask_offers_total",
        "fairtask_offer_decision_seconds_bucket",
        "fairtask_kafka_consumer_lag_messages",
        "fairtask_queued_tasks",
        "fairtask_kafka_dlq_messages_total",
        "fairtask:effective_hourly_usd:rate15m",
        "fairtask_pushes_outside_window_total",
        "fairtask_payments_below_floor_total",
        "fairtask_deadline_misses_total",
    ):
        assert series in queries, series


def test_every_query_names_a_series_that_exists(dashboard: dict[str, Any]) -> None:
    for panel in graphs(dashboard):
        for target in panel["targets"]:
            assert not unknown_series(target["expr"]), (panel["title"], target["expr"])


def test_every_query_parses(dashboard: dict[str, Any], tmp_path: Path) -> None:
    """promtool checks each query's PromQL, as a recording rule of a throwaway file."""
    rules = [
        {"record": f"dashboard:panel_{p['id']}_{t['refId']}", "expr": t["expr"]}
        for p in graphs(dashboard)
        for t in p["targets"]
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
