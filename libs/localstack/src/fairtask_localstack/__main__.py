"""`python -m fairtask_localstack up|down|status [--dir DIR]`: the local stack for `make`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from fairtask_localstack.kafka_server import find_project_root
from fairtask_localstack.process import StackError
from fairtask_localstack.stack import Stack


def _project_root() -> Path:
    try:
        return find_project_root(Path.cwd())
    except StackError:
        return find_project_root(Path(__file__).parent)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fairtask_localstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start Kafka, Redis and PostgreSQL (reuse if running)")
    up.add_argument("--fast", action="store_true", help="no fsync: for throwaway stacks")
    up.add_argument("--timeout", type=float, default=90.0, help="seconds per server (90)")
    commands.add_parser("down", help="stop the servers of --dir")
    commands.add_parser("status", help="exit 0 if every server answers, else 1")
    for command in commands.choices.values():
        command.add_argument(
            "--dir", type=Path, default=None, help="stack data directory (<project>/.stack)"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The Kafka client logs every retry while the broker boots; only real failures matter here.
    logging.basicConfig(level=logging.ERROR, format="localstack: %(name)s: %(message)s")
    root = _project_root()
    data_dir: Path = args.dir or root / ".stack"
    if args.command == "up":
        stack = Stack(data_dir, root, fast=args.fast, timeout_s=args.timeout)
        began = time.monotonic()
        try:
            endpoints = stack.start()
        except StackError as exc:
            print(f"localstack: {exc}", file=sys.stderr)
            return 1
        for key, value in endpoints.to_env().items():
            print(f"{key}={value}")
        took = ", ".join(f"{name} {s:.1f}s" for name, s in stack.startup_s.items())
        state = f"started in {time.monotonic() - began:.1f}s ({took})" if took else "reused"
        print(f"# stack {state}; env file: {stack.env_file}", file=sys.stderr)
        return 0
    stack = Stack(data_dir, root)
    if args.command == "down":
        try:
            stack.stop()
        except StackError as exc:
            print(f"localstack: {exc}", file=sys.stderr)
            return 1
        print(f"# stack in {data_dir} stopped", file=sys.stderr)
        return 0
    states = stack.status()
    for name, state in states.items():
        print(f"{name}: {state}")
    return 0 if all(state == "answering" for state in states.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
