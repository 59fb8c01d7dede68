"""`python -m dispatcher.move_client_ids`: once every dispatcher replica runs a version that
keeps client task ids in PostgreSQL, moves those earlier versions kept in Redis there and
deletes them from Redis (docs/operations.md, "Upgrading"). Same FAIRTASK_* settings as the
service. Safe to run again."""

import asyncio
import sys

import redis.asyncio as redis

from dispatcher.adapters.redis_client_hashes import RedisClientHashes, move_client_ids
from dispatcher.bootstrap import client_task_ids_in_postgres
from dispatcher.config import DispatcherSettings


async def main(settings: DispatcherSettings) -> int:
    client = redis.Redis.from_url(settings.redis_url)
    record = client_task_ids_in_postgres(settings)
    try:
        await record.start()
        moved = await move_client_ids(RedisClientHashes(client, settings.redis_prefix), record)
    finally:
        await record.close()
        await client.aclose()
    print(f"moved {moved.ids} client task ids to PostgreSQL ({settings.tables_schema})")
    for platform_id, client_id in moved.conflicts:
        print(f"  kept PostgreSQL's fingerprint of {platform_id}/{client_id}: Redis had another")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(DispatcherSettings())))
