"""Session hooks for the whole suite.

Every run uses a compiled scheduling core that matches its sources: the mypyc extension modules
shadow the Python files beside them; rebuilding here (a no-op when the sources are unchanged)
means an edited scheduler is never tested through a stale binary. And the fuzzers' counts of
inputs tried are written out and printed at the end.
"""

import pathlib
import subprocess

import pytest

from fairtask_fuzzing import tally

ROOT = pathlib.Path(__file__).parent


def pytest_sessionstart() -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "build_native.sh")], check=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    path = tally.write(ROOT)
    if path is not None:
        counts = ", ".join(f"{name} {n}" for name, n in sorted(tally.TRIED.items()))
        terminalreporter.write_line(
            f"fuzzing: {sum(tally.TRIED.values())} inputs tried ({counts}); see {path}"
        )
