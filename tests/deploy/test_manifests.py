"""deploy/k8s: what `make deploy-check` validates, plus the properties a schema cannot see.

Every overlay is rendered with kustomize and checked by kubeconform against the vendored
schemas; then each rendered object is held to the rules of docs/operations.md: probes, limits
and a locked-down security context on every workload, KEDA never scaling a consumer past its
topic's partitions, every setting a real FAIRTASK_* field, no secret values committed, and
alerts only on series the services export.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_series import exported_metrics, unknown_series

from dispatcher.config import DispatcherSettings
from fairtask_localstack.topics import DLQ_SUFFIX, TOPICS
from payroll.config import PayrollSettings
from payroll.entrypoints.consumers import GROUP_ID as PAYROLL_GROUP
from payroll.entrypoints.consumers import TOPICS as PAYROLL_TOPICS
from scoring.config import ScoringSettings
from scoring.entrypoints.consumers import SUBMISSIONS_TOPIC, TASKS_TOPIC

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / ".tools" / "bin" / "kustomize"
KUBECONFORM = ROOT / ".tools" / "bin" / "kubeconform"
OVERLAYS = ("base", "overlays/dev", "overlays/prod")
SERVICES = ("dispatcher", "scoring", "payroll")
SETTINGS: dict[str, Any] = {
    "dispatcher": DispatcherSettings,
    "scoring": ScoringSettings,
    "payroll": PayrollSettings,
}
# Set in the manifests but read by no settings class: FAIRTASK_SERVICE is the image's.
NOT_SETTINGS = {"FAIRTASK_SERVICE"}
# (consumer group, topic) each service's code consumes (its bootstrap wiring).
CONSUMED = {
    "dispatcher": {("dispatcher", "tasks.submitted")},
    "scoring": {("scoring-tasks", TASKS_TOPIC), ("scoring-submissions", SUBMISSIONS_TOPIC)},
    "payroll": {(PAYROLL_GROUP, topic) for topic in PAYROLL_TOPICS},
}
CORE_SCHEMAS = (
    "deploy/schemas/core/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/"
    "{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
CRD_SCHEMAS = "deploy/schemas/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"

Obj = dict[str, Any]


@pytest.fixture(scope="session")
def tools() -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "deploy_tools.sh")], check=True)


def _render(overlay: str) -> str:
    return subprocess.run(
        [str(KUSTOMIZE), "build", str(ROOT / "deploy" / "k8s" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _kubeconform(manifests: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(KUBECONFORM),
            "-strict",
            "-summary",
            "-kubernetes-version",
            "1.36.0",
            "-schema-location",
            CORE_SCHEMAS,
            "-schema-location",
            CRD_SCHEMAS,
            "-",
        ],
        input=manifests,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@pytest.fixture(scope="session")
def rendered(tools: None) -> dict[str, str]:
    return {overlay: _render(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session", params=OVERLAYS)
def objects(request: pytest.FixtureRequest, rendered: dict[str, str]) -> list[Obj]:
    docs = [d for d in yaml.safe_load_all(rendered[request.param]) if d]
    assert docs, f"{request.param} rendered nothing"
    return docs


def _of(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def _workloads(objects: list[Obj]) -> Iterator[Obj]:
    for o in objects:
        if o["kind"] in {"Deployment", "StatefulSet"}:
            yield o


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --- the same check as `make deploy-check` -------------------------------------------------


def test_deploy_check_passes_on_every_overlay(tools: None) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "deploy_check.sh")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summaries = [line for line in done.stdout.splitlines() if "Summary:" in line]
    assert len(summaries) == len(OVERLAYS), done.stdout
    for line in summaries:
        assert "Invalid: 0, Errors: 0, Skipped: 0" in line, line


@pytest.mark.parametrize(
    ("needle", "mistake"),
    [
        ("        imagePullPolicy: IfNotPresent\n", "        imagePulPolicy: Always\n"),
        ("  partitions: 12\n", "  partition: 12\n"),
        ("kind: ConfigMap\nmetadata:\n", "  labells: {}\n"),
    ],
)
def test_kubeconform_refuses_a_misspelt_field(
    rendered: dict[str, str], needle: str, mistake: str
) -> None:
    """The vendored schemas are strict: a typo is an error, not an ignored field."""
    manifests = rendered["base"]
    assert needle in manifests
    broken = manifests.replace(needle, needle + mistake, 1)
    done = _kubeconform(broken)
    assert done.returncode != 0
    assert "not allowed" in done.stdout


def test_kubeconform_refuses_a_kind_it_has_no_schema_for(tools: None) -> None:
    done = _kubeconform("apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\n")
    assert done.returncode != 0
    assert "could not find schema" in done.stdout


# --- workloads ------------------------------------------------------------------------------


def test_every_workload_is_probed_limited_and_locked_down(objects: list[Obj]) -> None:
    workloads = list(_workloads(objects))
    assert {w["metadata"]["name"] for w in workloads} >= {*SERVICES, "redis"}
    for workload in workloads:
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        pod_security = pod["securityContext"]
        assert pod_security["runAsNonRoot"] is True, name
        assert pod_security["runAsUser"] > 0, name
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", name
        writable = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{where} has no {probe}"
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= resources[bound].keys(), f"{where} {bound}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["runAsNonRoot"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp, f"{where}: a read-only root needs a writable /tmp"
            assert tmp[0]["name"] in writable, where


def test_services_are_probed_over_grpc_health_on_their_grpc_port(objects: list[Obj]) -> None:
    for deployment in _of(objects, "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == ports["grpc"], deployment["metadata"]
        service = container["command"][-1]
        assert container["command"] == ["python", "-m", service]
        assert service in SERVICES
        config = _config(objects)
        assert int(config["FAIRTASK_GRPC_PORT"]) == ports["grpc"]
        assert int(config["FAIRTASK_HTTP_PORT"]) == ports["http"]
        assert config["FAIRTASK_HOST"] == "0.0.0.0"


def _config(objects: list[Obj]) -> dict[str, str]:
    (config,) = [c for c in _of(objects, "ConfigMap") if c["metadata"]["name"] == "fairtask-config"]
    data: dict[str, str] = config["data"]
    return data


def test_every_fairtask_variable_is_a_setting_of_its_service(objects: list[Obj]) -> None:
    """A misspelt FAIRTASK_* name would be silently ignored (extra="ignore"): catch it here."""
    shared = set(_config(objects))
    for deployment in _of(objects, "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        service = container["command"][-1]
        fields = {f"FAIRTASK_{name.upper()}" for name in SETTINGS[service].model_fields}
        names = shared | {e["name"] for e in container.get("env", [])}
        unknown = {n for n in names if n.startswith("FAIRTASK_")} - fields - NOT_SETTINGS
        assert not unknown, f"{service}: {sorted(unknown)} are not settings"


def test_every_deployment_has_a_disruption_budget_and_a_service(objects: list[Obj]) -> None:
    budgets = _of(objects, "PodDisruptionBudget")
    services = _of(objects, "Service")
    for workload in _workloads(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        name = workload["metadata"]["name"]
        assert any(_matches(b["spec"]["selector"]["matchLabels"], labels) for b in budgets), name
        assert any(_matches(s["spec"]["selector"], labels) for s in services), name


def test_no_secret_values_are_committed(objects: list[Obj]) -> None:
    assert not [s for s in _of(objects, "Secret") if s.get("data") or s.get("stringData")]
    for deployment in _workloads(objects):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                if re.search(r"SECRET|PASSWORD|DSN|AUTH", env["name"]):
                    assert "secretKeyRef" in env.get("valueFrom", {}), env["name"]


def test_no_secret_is_committed_anywhere_under_deploy() -> None:
    for path in (ROOT / "deploy").rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                pytest.fail(f"{path} commits a Secret")


# --- Kafka and autoscaling ------------------------------------------------------------------


def _partitions(objects: list[Obj]) -> dict[str, int]:
    return {t["spec"]["topicName"]: t["spec"]["partitions"] for t in _of(objects, "KafkaTopic")}


def test_every_topic_and_its_dlq_is_a_kafka_topic(objects: list[Obj]) -> None:
    partitions = _partitions(objects)
    assert set(partitions) == set(TOPICS)
    for name, least in TOPICS.items():
        assert partitions[name] >= least, name
        if not name.endswith(DLQ_SUFFIX):
            assert name + DLQ_SUFFIX in partitions


def test_keda_never_scales_a_consumer_past_its_topics_partitions(objects: list[Obj]) -> None:
    partitions = _partitions(objects)
    scaled = _of(objects, "ScaledObject")
    deployments = {d["metadata"]["name"] for d in _of(objects, "Deployment")}
    kafka_scaled = 0
    for scaler in scaled:
        spec = scaler["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        topics = [t["metadata"]["topic"] for t in spec["triggers"] if t["type"] == "kafka"]
        if topics:
            kafka_scaled += 1
            least = min(partitions[t] for t in topics)
            assert spec["maxReplicaCount"] <= least, scaler["metadata"]["name"]
    assert kafka_scaled >= len(SERVICES)


def test_keda_watches_every_group_and_topic_each_service_consumes(objects: list[Obj]) -> None:
    scalers = {s["spec"]["scaleTargetRef"]["name"]: s for s in _of(objects, "ScaledObject")}
    for service, consumed in CONSUMED.items():
        triggers = scalers[service]["spec"]["triggers"]
        watched = {
            (t["metadata"]["consumerGroup"], t["metadata"]["topic"])
            for t in triggers
            if t["type"] == "kafka"
        }
        assert watched == consumed, service


# --- network and monitoring -----------------------------------------------------------------


def test_every_fairtask_pod_is_under_default_deny(objects: list[Obj]) -> None:
    (deny,) = [p for p in _of(objects, "NetworkPolicy") if p["metadata"]["name"] == "default-deny"]
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (expression,) = deny["spec"]["podSelector"]["matchExpressions"]
    for workload in _workloads(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert labels[expression["key"]] in expression["values"]


def test_only_the_services_that_use_a_store_may_reach_it(objects: list[Obj]) -> None:
    clients = {
        label: {
            w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
            for w in _of(objects, "Deployment")
            if w["spec"]["template"]["metadata"]["labels"].get(label) == "true"
        }
        for label in (
            "fairtask.io/kafka-client",
            "fairtask.io/redis-client",
            "fairtask.io/postgres-client",
        )
    }
    assert clients["fairtask.io/kafka-client"] == set(SERVICES)
    # Payroll reads the platform and operator API keys there, nothing else.
    assert clients["fairtask.io/redis-client"] == set(SERVICES)
    # The dispatcher keeps the client task ids platforms used there.
    assert clients["fairtask.io/postgres-client"] == {"payroll", "dispatcher"}


def test_alerts_use_only_series_the_services_export(objects: list[Obj]) -> None:
    assert "fairtask_pushes_outside_window_total" in exported_metrics()
    (rules,) = _of(objects, "PrometheusRule")
    every = [r for g in rules["spec"]["groups"] for r in g["rules"]]
    alerts = {r["alert"]: r for r in every if "alert" in r}
    assert {
        "FairtaskPushOutsideWindow",
        "FairtaskPaymentBelowFloor",
        "FairtaskUnfairShares",
        "FairtaskFeasibleDeadlineMissed",
        "FairtaskServiceDown",
        "FairtaskDeadLettersGrowing",
        "FairtaskConsumerLagGrowing",
    } <= alerts.keys()
    for rule in every:
        # Recording rules (fairtask:...) are used only where something records them.
        unknown = unknown_series(rule["expr"])
        assert not unknown, f"{rule.get('alert', rule.get('record'))}: {unknown}"


def test_every_service_is_scraped(objects: list[Obj]) -> None:
    monitors = _of(objects, "ServiceMonitor")
    services = _of(objects, "Service")
    for name in SERVICES:
        (service,) = [s for s in services if s["metadata"]["name"] == name]
        assert any(
            _matches(m["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
            and m["spec"]["endpoints"][0]["port"] == "http"
            for m in monitors
        ), name
