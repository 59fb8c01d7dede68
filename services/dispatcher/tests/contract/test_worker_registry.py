"""One contract, two registries: the in-memory fake must behave like the Redis one."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as redis

from dispatcher.adapters.memory_workers import MemoryWorkerRegistry
from dispatcher.adapters.worker_registry import RedisWorkerRegistry
from dispatcher.service_layer.auth import WorkerRegistry
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.revoked_tokens import RedisRevokedTokens


@dataclass
class Subject:
    registry: WorkerRegistry
    now: Callable[[], datetime]
    # Lets time pass as the registry sees it: the fake's clock, or Redis's own.
    wait: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "memory":
        clock = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        yield Subject(MemoryWorkerRegistry(clock), clock.now, advance)
        return
    endpoints: Any = request.getfixturevalue("stack_endpoints")
    client = redis.from_url(endpoints.redis_url)
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    try:
        registry = RedisWorkerRegistry(
            client, prefix, RedisRevokedTokens(client, f"{prefix}revoked:")
        )
        yield Subject(registry, lambda: datetime.now(UTC), asyncio.sleep)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_an_id_is_claimed_once_even_by_concurrent_claims(subject: Subject) -> None:
    claims = await asyncio.gather(*(subject.registry.claim("w1", subject.now()) for _ in range(8)))

    assert sorted(claims) == [False] * 7 + [True]
    assert await subject.registry.claim("w2", subject.now())


async def test_a_revocation_lasts_until_the_token_would_have_expired(subject: Subject) -> None:
    registry = subject.registry
    assert not await registry.is_revoked("t1")

    await registry.revoke("t1", subject.now() + timedelta(seconds=0.4))
    await registry.revoke("t1", subject.now() + timedelta(seconds=0.4))  # idempotent

    assert await registry.is_revoked("t1")
    assert not await registry.is_revoked("t2")
    await subject.wait(0.6)
    assert not await registry.is_revoked("t1")


async def test_revoking_an_already_expired_token_is_harmless(subject: Subject) -> None:
    await subject.registry.revoke("old", subject.now() - timedelta(days=1))

    assert not await subject.registry.is_revoked("old")
