#!/usr/bin/env bash
# Installs what every `make` target needs on a fresh Debian 12 machine: uv, the Debian packages
# (Redis, PostgreSQL, Prometheus, gcc, and Java + Maven if absent), the Kafka jars from Maven Central,
# and the locked Python environment. Idempotent, and takes about a second when all is in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf 'setup: %s\n' "$*"; }
jar_names() { find "$1" -maxdepth 1 -name '*.jar' -printf '%f\n' | sort; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        say "need root (or sudo) for: $*" >&2
        exit 1
    fi
}

apt_install() {
    say "apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Debian packages. Only the missing ones, and no apt-get at all when nothing is missing.
packages=()
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || packages+=(postgresql)
command -v prometheus >/dev/null 2>&1 || packages+=(prometheus)
command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || packages+=(maven)
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v gcc >/dev/null 2>&1 || packages+=(gcc)
python3 -m pip --version >/dev/null 2>&1 || command -v uv >/dev/null 2>&1 || packages+=(python3-pip)
if [ "${#packages[@]}" -gt 0 ]; then
    apt_install "${packages[@]}"
else
    say "Debian packages present"
fi

# 2. uv.
if ! command -v uv >/dev/null 2>&1; then
    say "pip install uv"
    # Debian 12 marks its Python externally managed; uv is a self-contained binary, so it is safe.
    python3 -m pip install -q uv 2>/dev/null || python3 -m pip install -q --break-system-packages uv
    hash -r
    if ! command -v uv >/dev/null 2>&1; then
        # pip put it in a scripts dir that is not on PATH (e.g. pyenv before a rehash).
        scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
        as_root ln -sf "$scripts/uv" /usr/local/bin/uv
        hash -r
    fi
fi

# 3. Kafka jars into .cache/kafka/libs. The marker holds the pom's sha256, as in
#    fairtask_localstack.kafka_server.ensure_kafka_libs, so a version bump re-fetches.
libs="$root/.cache/kafka/libs"
pom="$root/scripts/kafka/pom.xml"
digest="$(sha256sum "$pom" | cut -d' ' -f1)"
if [ "$(cat "$libs/.complete" 2>/dev/null)" = "$digest" ]; then
    say "Kafka jars present"
else
    mkdir -p "$root/.cache/kafka"
    exec 9>"$root/.cache/kafka/.lock"
    flock 9  # another process of this checkout may be fetching right now
    if [ "$(cat "$libs/.complete" 2>/dev/null)" != "$digest" ]; then
        say "fetching Kafka jars (about 46 MB)"
        staging="$root/.cache/kafka/libs.$$.tmp"
        rm -rf "$staging"
        mvn_log="$root/.cache/kafka/mvn.log"
        if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$staging" >"$mvn_log" 2>&1; then
            cat "$mvn_log" >&2
            say "fetching Kafka jars failed (log above, also in $mvn_log)" >&2
            exit 1
        fi
        echo "$digest" >"$staging/.complete"
        if [ -d "$libs" ] && [ "$(jar_names "$libs")" = "$(jar_names "$staging")" ]; then
            # Same jars: keep the files a running broker may have open, just mark them complete.
            mv "$staging/.complete" "$libs/.complete"
            rm -rf "$staging"
        else
            if [ -d "$libs" ]; then
                mv "$libs" "$root/.cache/kafka/libs.$$.old"
                rm -rf "$root/.cache/kafka/libs.$$.old"
            fi
            mv "$staging" "$libs"
        fi
    fi
    exec 9>&-
fi

# 4. The locked Python environment (all workspace members).
say "uv sync"
if [ -f uv.lock ]; then
    uv sync --frozen --all-packages -q
else
    uv sync --all-packages -q
fi

# 5. The scheduling core compiled with mypyc (a no-op when its sources are unchanged).
bash "$root/scripts/build_native.sh"
say "done"
