#!/usr/bin/env bash
# Installs the deploy checkers into <repo>/.tools/bin: kustomize (renders deploy/k8s overlays) and
# kubeconform (validates what it renders against the schemas vendored in deploy/schemas).
# Built from source with `go install` through the Go module proxy; nothing else is downloaded.
# Idempotent: a tool already at the pinned version is left alone (about 10 ms).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
# kustomize v5.8.3 needs Go 1.27; v5.8.2 builds on the Go 1.26 these machines have.
KUSTOMIZE_VERSION=v5.8.2
KUBECONFORM_VERSION=v0.8.0

say() { printf 'deploy-tools: %s\n' "$*"; }

if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then
        export PATH="/usr/local/go/bin:$PATH"
    else
        say "needs the go command (Go >= 1.26) to build kustomize and kubeconform" >&2
        exit 1
    fi
fi

mkdir -p "$bin"
exec 9>"$root/.tools/.lock"
flock 9  # another make target of this checkout may be installing right now

# `go version -m` prints the module version a binary was built from.
built_version() { go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'; }

install_tool() {
    local name="$1" module="$2" version="$3"
    if [ -x "$bin/$name" ] && [ "$(built_version "$bin/$name")" = "$version" ]; then
        return
    fi
    say "go install $module@$version"
    GOBIN="$bin" GOTOOLCHAIN=local CGO_ENABLED=0 go install "$module@$version"
}

install_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
install_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
say "kustomize $KUSTOMIZE_VERSION and kubeconform $KUBECONFORM_VERSION in $bin"
