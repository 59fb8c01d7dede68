"""aiokafka keeps each client's view of the cluster fresh in one background task, and every
wait for fresh metadata (a coordinator lookup, hence a commit; a producer's send to a topic it
has not seen) waits on that task. If it ends with an error, those waits never end: after a
Kafka restart a consumer waited inside a commit for good (see uvloop_writes for the cause
found). `revive` starts the task again and wakes it, so the waits end.

It reads aiokafka's internals (pinned in uv.lock); a test checks they are still there.
"""

import asyncio
from typing import Any

import structlog

from fairtask_runtime.metrics import KAFKA_METADATA_TASKS_REVIVED

log = structlog.get_logger(__name__)


def revive(client: Any) -> bool:
    """Starts the client's metadata task again if it ended while the client is open (a
    closed client has none). True if it had to."""
    task = getattr(client, "_sync_task", None)
    if task is None or not task.done():
        return False
    error = "cancelled" if task.cancelled() else repr(task.exception())
    log.error("a Kafka client's metadata task had ended; starting it again", error=error)
    KAFKA_METADATA_TASKS_REVIVED.inc()
    client._sync_task = asyncio.create_task(client._md_synchronizer())
    # Those waiting for an update get one now rather than at the next periodic refresh.
    if not client._md_update_waiter.done():
        client._md_update_waiter.set_result(None)
    return True


async def keep_alive(client: Any, interval_s: float = 1.0) -> None:
    """Revives the client's metadata task whenever it ends, until cancelled."""
    while True:
        revive(client)
        await asyncio.sleep(interval_s)
