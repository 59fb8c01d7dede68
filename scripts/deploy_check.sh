#!/usr/bin/env bash
# `make deploy-check`: renders every kustomize overlay of deploy/k8s and validates each object
# with kubeconform -strict against the schemas vendored in deploy/schemas only (no network):
# an unknown field, a wrong type or a kind without a schema fails. Installs the two tools first
# (scripts/deploy_tools.sh, idempotent). Then the Prometheus rules: promtool check rules, their
# unit tests (promtool test rules), and the PrometheusRule generated from them is current.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/deploy_tools.sh >/dev/null

# Kubernetes release whose core schemas are vendored (deploy/schemas/core/v<version>-...).
KUBERNETES_VERSION=1.36.0
core='deploy/schemas/core/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json'
crds='deploy/schemas/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'

status=0
for overlay in deploy/k8s/base deploy/k8s/overlays/*/; do
    overlay="${overlay%/}"
    printf 'deploy-check: %s: ' "$overlay"
    if ! rendered="$(.tools/bin/kustomize build "$overlay")"; then
        status=1
        continue
    fi
    if ! printf '%s\n' "$rendered" | .tools/bin/kubeconform -strict -summary \
        -kubernetes-version "$KUBERNETES_VERSION" \
        -schema-location "$core" -schema-location "$crds" -; then
        status=1
    fi
done
echo "deploy-check: deploy/prometheus:"
promtool check rules deploy/prometheus/rules.yml || status=1
(cd deploy/prometheus && promtool test rules rules_test.yml) || status=1
uv run --frozen python scripts/gen_prometheus_rule.py --check || status=1
exit "$status"
