#!/usr/bin/env bash
# Regenerates the committed Python contracts from proto/ with the locked grpcio-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
out=libs/contracts/src
find "$out/fairtask/v1" -name '*_pb2*' -delete
uv run --frozen python -m grpc_tools.protoc -Iproto \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-mypy_grpc="$(uv run --frozen which protoc-gen-mypy_grpc)" \
  --mypy_grpc_out="$out" \
  proto/fairtask/v1/*.proto
