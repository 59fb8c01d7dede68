"""Remembering which events were handled, so redeliveries are skipped."""

from typing import Protocol

import redis.asyncio as redis


class ProcessedEvents(Protocol):
    async def seen(self, event_id: str) -> bool:
        """True if the event's effect is already durable. Does not block on other callers."""
        ...

    async def remember(self, event_id: str) -> None:
        """Records the event as handled; idempotent. Call only after its effect is durable."""
        ...


class RedisProcessedEvents:
    def __init__(self, client: "redis.Redis", namespace: str, ttl_s: int = 7 * 24 * 3600) -> None:
        self._client = client
        self._namespace = namespace
        self._ttl_s = ttl_s

    async def seen(self, event_id: str) -> bool:
        return bool(await self._client.exists(f"{self._namespace}:seen:{event_id}"))

    async def remember(self, event_id: str) -> None:
        await self._client.set(f"{self._namespace}:seen:{event_id}", 1, ex=self._ttl_s)


class MemoryProcessedEvents:
    def __init__(self) -> None:
        self._ids: set[str] = set()

    async def seen(self, event_id: str) -> bool:
        return event_id in self._ids

    async def remember(self, event_id: str) -> None:
        self._ids.add(event_id)
