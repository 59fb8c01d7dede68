#!/usr/bin/env bash
# Fails when the committed Python contracts are stale, buf lint fails, or proto/ breaks main.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/gen_proto.sh >/dev/null 2>&1 || { echo "protoc failed: run make proto" >&2; exit 1; }
if ! git diff --exit-code --stat -- libs/contracts; then
  echo "generated contracts are stale: run 'make proto' and commit" >&2
  exit 1
fi
if [ -n "$(git ls-files --others --exclude-standard -- libs/contracts)" ]; then
  echo "generated contracts are not committed: run 'make proto' and commit" >&2
  exit 1
fi
uv run --frozen buf lint
if git rev-parse --verify --quiet main >/dev/null && git cat-file -e main:buf.yaml 2>/dev/null; then
  uv run --frozen buf breaking --against '.git#branch=main'
fi
echo "proto-check: ok"
