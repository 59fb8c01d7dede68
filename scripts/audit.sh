#!/usr/bin/env bash
# Known vulnerabilities in the locked environment (pip-audit, PyPI's advisory data).
# Fails when any locked package has a known vulnerability. Says plainly how many packages it
# could check: where the advisory service cannot be reached nothing is audited, and that is
# reported as such, never as a clean result.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
uv export --frozen --all-packages --no-emit-workspace --no-hashes --format requirements-txt -q \
    > "$workdir/requirements.txt"
status=0
uv run --frozen pip-audit -r "$workdir/requirements.txt" --no-deps --disable-pip \
    --progress-spinner off --format json --output "$workdir/audit.json" \
    2> "$workdir/stderr" || status=$?
if [ ! -s "$workdir/audit.json" ]; then
    cat "$workdir/stderr" >&2
    echo "audit: pip-audit failed (exit $status)" >&2
    exit 1
fi
uv run --frozen python - "$workdir/audit.json" <<'PY'
import json
import sys

found = json.load(open(sys.argv[1]))["dependencies"]
audited = [d for d in found if "skip_reason" not in d]
vulnerable = [d for d in audited if d["vulns"]]
for d in vulnerable:
    for v in d["vulns"]:
        fixed = ", ".join(v.get("fix_versions", [])) or "no fix yet"
        print(f"audit: {d['name']} {d['version']}: {v['id']} (fixed in {fixed})")
print(f"audit: {len(audited)} of {len(found)} locked packages checked, {len(vulnerable)} vulnerable")
if not audited:
    print("audit: NOTHING WAS AUDITED: the advisory service (PyPI's per-release JSON) is not "
          "reachable from this machine; run `make audit` where it is")
sys.exit(1 if vulnerable else 0)
PY
