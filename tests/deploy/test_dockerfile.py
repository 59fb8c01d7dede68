"""deploy/docker/Dockerfile: there is no Docker engine here, so the file is read and its uv steps
are replayed.

The parse checks hold the image to its rules (multi-stage, built from uv.lock, slim Python 3.11,
non-root, nothing writable needed). The replay runs the Dockerfile's own `uv sync` lines, in the
same order and with the same environment, in a scratch directory laid out as the build stage's,
and then imports the service from the environment they made: the commands are the ones that
would run in `docker build`, so a wrong package name or a missing file fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
SERVICES = ("dispatcher", "scoring", "payroll")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, rest in _instructions():
        if keyword == "FROM":
            name = rest.split(" AS ")[-1] if " AS " in rest else rest
            current = stages.setdefault(name, [])
        elif current is not None:
            current.append((keyword, rest))
    return stages


def _args() -> dict[str, str]:
    found = {}
    for keyword, rest in _instructions():
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            found[name] = value
    return found


def test_build_and_runtime_are_separate_stages_on_slim_python_311() -> None:
    stages = _stages()
    assert {"build", "runtime"} <= stages.keys()
    assert list(stages)[-1] == "runtime", "the last stage is what `docker build` ships"
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", _args()["PYTHON_IMAGE"])
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", _args()["UV_IMAGE"]), "pin uv"


def test_the_environment_comes_from_the_lock_without_dev_packages() -> None:
    syncs = [rest for keyword, rest in _stages()["build"] if "uv sync" in rest]
    assert len(syncs) == 2
    for sync in syncs:
        assert "--frozen" in sync
        assert "--no-dev" in sync
        assert '--package "fairtask-$SERVICE"' in sync
    assert "source=uv.lock" in syncs[0], "the dependency layer is keyed on uv.lock"
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1], "the runtime stage gets the venv, not the sources"


def test_the_runtime_runs_unprivileged_with_nothing_to_write() -> None:
    runtime = _stages()["runtime"]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users, "runtime stage has no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric uid: runAsNonRoot can only check a number"
    assert int(uid) >= 1000
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env
    assert "UV_COMPILE_BYTECODE=1" in " ".join(r for k, r in _stages()["build"] if k == "ENV")
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert copies == ["--from=build /app /app"], "only the built venv and data reach runtime"
    assert not [r for k, r in runtime if k == "HEALTHCHECK"]
    (entrypoint,) = [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    assert 'exec python -m \\"$FAIRTASK_SERVICE\\"' in entrypoint


def test_the_ports_are_the_ones_the_manifests_probe() -> None:
    runtime = dict(_stages()["runtime"])
    assert runtime["EXPOSE"].split() == ["50051", "8080"]
    env = " ".join(rest for keyword, rest in _stages()["runtime"] if keyword == "ENV")
    assert "FAIRTASK_GRPC_PORT=50051" in env
    assert "FAIRTASK_HTTP_PORT=8080" in env
    assert "FAIRTASK_HOST=0.0.0.0" in env


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".cache", ".tools"} <= ignored
    assert "uv.lock" not in ignored


def _replay_commands() -> tuple[dict[str, str], list[str]]:
    build = _stages()["build"]
    env: dict[str, str] = {}
    for keyword, rest in build:
        if keyword == "ENV":
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                env[name] = value
    commands = []
    for keyword, rest in build:
        if keyword == "RUN" and "uv sync" in rest:
            commands.append(re.sub(r"--mount=\S+\s*", "", rest).strip())
    return env, commands


@pytest.mark.timeout(600)
def test_the_build_stage_uv_steps_make_a_runnable_payroll(tmp_path: Path) -> None:
    """Replays the build stage for payroll (the service with files beside its package)."""
    if shutil.which("uv") is None:
        pytest.skip("uv is installed by make setup")
    service = "payroll"
    env, commands = _replay_commands()
    src = tmp_path / "src"
    app = tmp_path / "app"
    env["UV_PROJECT_ENVIRONMENT"] = str(app / ".venv")
    env["SERVICE"] = service
    run_env = {**os.environ, **env}
    run_env.pop("VIRTUAL_ENV", None)
    # First step: only uv.lock and pyproject.toml are mounted.
    src.mkdir()
    for name in ("uv.lock", "pyproject.toml"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run(["sh", "-c", commands[0]], cwd=src, env=run_env, check=True)
    # Then `COPY . /src` (less what .dockerignore leaves out) and the second step.
    ignore = shutil.ignore_patterns(
        ".git", ".venv", ".cache", ".stack", ".tools", "__pycache__", "*.so", "build", "deploy"
    )
    for name in ("libs", "services", "tools", "sim", "bench"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    subprocess.run(["sh", "-c", commands[1]], cwd=src, env=run_env, check=True)
    (migrations_step,) = [r for k, r in _stages()["build"] if k == "RUN" and "migrations" in r]
    subprocess.run(
        ["sh", "-c", migrations_step.replace("/app/", f"{app}/")],
        cwd=src,
        env=run_env,
        check=True,
    )
    python = app / ".venv" / "bin" / "python"
    probe = (
        "import payroll.__main__, payroll.bootstrap\n"
        "from fairtask_runtime.postgres_migrations import load_migrations\n"
        "from payroll.config import PayrollSettings\n"
        "s = PayrollSettings()\n"
        "print(len(load_migrations(s.migrations_dir)))\n"
    )
    done = subprocess.run(
        [str(python), "-c", probe],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "FAIRTASK_MIGRATIONS_DIR": str(app / "migrations")},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    shipped = sorted((ROOT / "services" / service / "migrations").glob("*.sql"))
    assert int(done.stdout) == len(shipped) > 0
    site = next((app / ".venv" / "lib").glob("python3.11/site-packages"))
    assert (site / "payroll").is_dir(), "installed, not an editable link to /src"
    assert not list(site.glob("pytest*")), "dev packages stayed out"
