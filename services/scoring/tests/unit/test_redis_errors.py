"""The Redis result log reports an unreachable server as the port's own error."""

import socket

import pytest
import redis.asyncio as redis

from scoring.adapters.redis_store import RedisResultLog
from scoring.domain.errors import StoreUnavailableError


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    client: redis.Redis = redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0")
    try:
        with pytest.raises(StoreUnavailableError):
            await RedisResultLog(client).read("p-1", "", 10, 0.1)
    finally:
        await client.aclose()
