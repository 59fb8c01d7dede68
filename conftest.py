"""Every test run uses a compiled scheduling core that matches its sources.

The mypyc extension modules shadow the Python files beside them; rebuilding here (a no-op when
the sources are unchanged) means an edited scheduler is never tested through a stale binary.
"""

import pathlib
import subprocess


def pytest_sessionstart() -> None:
    script = pathlib.Path(__file__).parent / "scripts" / "build_native.sh"
    subprocess.run(["bash", str(script)], check=True)
