import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

# The tests share `store_helpers`; --import-mode=importlib does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

from store_helpers import ALIVE, REPLICA, Stores

from dispatcher.adapters.memory import MemoryTaskStore, MemoryTaskTypes, MemoryTransitionLog
from dispatcher.adapters.redis_log import RedisTransitionLog
from dispatcher.adapters.redis_store import RedisTaskStore, RedisTaskTypes
from dispatcher.service_layer.ports import TaskStore


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    if request.param == "memory":
        memory = MemoryTaskStore(REPLICA)
        yield Stores(memory, MemoryTaskTypes(), MemoryTransitionLog(memory.state))
        return
    endpoints: Any = request.getfixturevalue("stack_endpoints")
    client = redis.from_url(endpoints.redis_url)
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    log = RedisTransitionLog(client, prefix)
    await log.beat(REPLICA, ALIVE)
    try:
        yield Stores(RedisTaskStore(client, prefix, REPLICA), RedisTaskTypes(client, prefix), log)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def store(stores: Stores) -> TaskStore:
    return stores.tasks
