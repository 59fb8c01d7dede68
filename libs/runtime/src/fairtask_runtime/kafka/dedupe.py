"""Remembering which events were handled, so redeliveries are skipped."""

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import redis.asyncio as redis


class ProcessedEvents(Protocol):
    async def seen(self, event_id: str) -> bool:
        """True if the event's effect is already durable. Does not block on other callers."""
        ...

    async def remember(self, event_id: str) -> None:
        """Records the event as handled; idempotent. Call only after its effect is durable."""
        ...


@runtime_checkable
class ProcessedEventsInBulk(ProcessedEvents, Protocol):
    """A store that answers for many events in one round trip."""

    async def seen_many(self, event_ids: Sequence[str]) -> list[bool]:
        """`seen` of each id, in order."""
        ...

    async def remember_many(self, event_ids: Sequence[str]) -> None:
        """`remember` of each id."""
        ...


async def seen_many(processed: ProcessedEvents, event_ids: Sequence[str]) -> list[bool]:
    """In one round trip when the store can, else one id at a time."""
    if isinstance(processed, ProcessedEventsInBulk):
        return await processed.seen_many(event_ids)
    return [await processed.seen(event_id) for event_id in event_ids]


async def remember_many(processed: ProcessedEvents, event_ids: Sequence[str]) -> None:
    if isinstance(processed, ProcessedEventsInBulk):
        await processed.remember_many(event_ids)
        return
    for event_id in event_ids:
        await processed.remember(event_id)


class RedisProcessedEvents:
    def __init__(self, client: "redis.Redis", namespace: str, ttl_s: int = 7 * 24 * 3600) -> None:
        self._client = client
        self._namespace = namespace
        self._ttl_s = ttl_s

    def _key(self, event_id: str) -> str:
        return f"{self._namespace}:seen:{event_id}"

    async def seen(self, event_id: str) -> bool:
        return bool(await self._client.exists(self._key(event_id)))

    async def remember(self, event_id: str) -> None:
        await self._client.set(self._key(event_id), 1, ex=self._ttl_s)

    async def seen_many(self, event_ids: Sequence[str]) -> list[bool]:
        async with self._client.pipeline(transaction=False) as pipe:
            for event_id in event_ids:
                pipe.exists(self._key(event_id))
            return [bool(found) for found in await pipe.execute()]

    async def remember_many(self, event_ids: Sequence[str]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for event_id in event_ids:
                pipe.set(self._key(event_id), 1, ex=self._ttl_s)
            await pipe.execute()


class MemoryProcessedEvents:
    """The ids of the last `kept` events handled, in this process: a redelivery after a
    rebalance or a restart repeats recent events, and a consumer runs for weeks. An event older
    than that must be told apart by its handler (the dispatcher's task store refuses a task it
    already has, however old)."""

    def __init__(self, kept: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()  # oldest first
        self._kept = kept

    async def seen(self, event_id: str) -> bool:
        return event_id in self._ids

    async def remember(self, event_id: str) -> None:
        self._remember(event_id)

    async def seen_many(self, event_ids: Sequence[str]) -> list[bool]:
        return [event_id in self._ids for event_id in event_ids]

    async def remember_many(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self._remember(event_id)

    def _remember(self, event_id: str) -> None:
        ids = self._ids
        ids[event_id] = None
        if len(ids) > self._kept:
            ids.popitem(last=False)  # O(1), where a plain dict's first key is not
