"""Stops a stack once the process that owns it is gone (a test run that was killed).

Run detached as `python -m fairtask_localstack.watchdog OWNER_PID DATA_DIR PROJECT_ROOT MODE`
(MODE: `throwaway` deletes DATA_DIR afterwards, `keep` does not). Stack.stop() terminates the
watchdog first when the owner stops the stack itself.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fairtask_localstack.process import pid_alive, process_start_time
from fairtask_localstack.stack import Stack


def main(argv: list[str]) -> int:
    owner_pid, data_dir, project_root = int(argv[0]), Path(argv[1]), Path(argv[2])
    # With its start time, a new process that reuses the owner's pid is not mistaken for it.
    owner_started = process_start_time(owner_pid)
    while owner_started is not None and pid_alive(owner_pid, owner_started):
        time.sleep(1.0)
    print(f"owner {owner_pid} is gone; stopping the stack in {data_dir}", flush=True)
    Stack(data_dir, project_root, throwaway=argv[3] == "throwaway").stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
