#!/usr/bin/env bash
# Compiles the scheduling core's hot modules to C extensions with mypyc (part of mypy): the same
# typed Python, two to three times faster. The extension modules sit beside their sources, which
# they shadow on import, so they are rebuilt whenever a source changes (a sha256 stamp) and
# removed when the build fails: the pure Python then runs, slower but identical in behaviour.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/services/dispatcher/src"
package="dispatcher/domain/scheduling"
modules=(fair_share pools absences task_queue states recent_ids exposure local_time policy)
stamp="$root/.cache/native/stamp"
log="$root/.cache/native/build.log"

sources=()
for module in "${modules[@]}"; do sources+=("$package/$module.py"); done
cd "$src"
digest="$(cat "${sources[@]}" "$root/uv.lock" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ] && compgen -G "$package/fair_share.*.so" >/dev/null; then
    exit 0
fi
mkdir -p "$(dirname "$stamp")"
exec 9>"$root/.cache/native/lock"
flock 9  # two make targets of one checkout may start at once
rm -f "$stamp" "$package"/*.so ./*__mypyc.*.so
echo "native: compiling the scheduling core with mypyc"
if (cd "$src" && "$root/.venv/bin/mypyc" "${sources[@]}") >"$log" 2>&1; then
    echo "$digest" >"$stamp"
else
    rm -f "$package"/*.so ./*__mypyc.*.so
    echo "native: mypyc failed (log in $log); the scheduler runs as pure Python" >&2
fi
rm -rf "$src/build"
