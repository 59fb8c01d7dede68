"""Operators issue, list and revoke platform API keys:

    python -m fairtask_runtime.api_keys issue --platform acme --label "ci robot"
    python -m fairtask_runtime.api_keys list [--platform acme]
    python -m fairtask_runtime.api_keys revoke <key id>

`issue` prints the key alone on stdout (so `KEY=$(... issue ...)` works) and how to use it on
stderr; the key is never shown again. Rotation: issue a second key, move the platform over,
revoke the old one. Services stop accepting a revoked key within their cache time (2 s).
"""

import argparse
import asyncio
import os
import sys

import redis.asyncio as redis

from fairtask_runtime.api_keys.store import DEFAULT_PREFIX, RedisPlatformKeys

_DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fairtask_runtime.api_keys", description=__doc__
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("FAIRTASK_PLATFORM_KEYS_REDIS_URL")
        or os.environ.get("FAIRTASK_REDIS_URL", _DEFAULT_REDIS),
        help="the Redis the services read keys from (default: $FAIRTASK_PLATFORM_KEYS_REDIS_URL, "
        "else $FAIRTASK_REDIS_URL, else %(default)s)",
    )
    parser.add_argument(
        "--prefix",
        default=os.environ.get("FAIRTASK_PLATFORM_KEYS_PREFIX", DEFAULT_PREFIX),
        help="key prefix in Redis (default %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="issue a new key for a platform")
    issue.add_argument("--platform", required=True)
    issue.add_argument("--label", default="", help="who or what will use the key")
    listing = commands.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--platform", default=None)
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    return parser


async def _run(args: argparse.Namespace) -> int:
    client: redis.Redis = redis.from_url(args.redis)
    store = RedisPlatformKeys(client, args.prefix)
    try:
        if args.command == "issue":
            try:
                issued = await store.issue(args.platform, args.label)
            except ValueError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            print(issued.key)
            print(
                f"issued key {issued.key_id} for platform {issued.platform_id}; it is shown only "
                "this once. Send it as gRPC metadata 'authorization: Bearer <key>'.",
                file=sys.stderr,
            )
        elif args.command == "list":
            print(f"{'key id':<16}  {'platform':<24}  {'created (UTC)':<19}  state     label")
            for info in await store.keys(args.platform):
                state = "live" if info.live else "revoked"
                created = info.created_at.strftime("%Y-%m-%d %H:%M:%S")
                row = f"{info.key_id:<16}  {info.platform_id:<24}  {created}  {state:<8}"
                print(f"{row}  {info.label}")
        elif not await store.revoke(args.key_id):
            print(f"error: no key {args.key_id!r}", file=sys.stderr)
            return 1
        else:
            print(f"revoked key {args.key_id}", file=sys.stderr)
        return 0
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_run(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
