"""Client task ids as versions until 2026-12-07 kept them: a Redis hash per platform
(`<prefix>client:<platform>`, id -> fingerprint), never trimmed.

Replicas of such versions read and write only there. Later versions read there too
(`WithRedisHashes`) and, while both run side by side (FAIRTASK_CLIENT_IDS_ALSO_IN_REDIS during
the rolling upgrade), write there too. Once no replica needs them, `move_client_ids` moves the
hashes' ids to PostgreSQL and deletes them.
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import redis.asyncio as redis

from dispatcher.adapters.postgres_client_tasks import PostgresClientTaskIds
from dispatcher.adapters.values import as_text
from dispatcher.domain.model import TaskStatus
from dispatcher.service_layer.ports import (
    Accepted,
    ClientTaskIds,
    ClientTaskRecord,
    IdState,
    TaskOutcome,
)

_GLOB_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\*?[]"})


class RedisClientHashes:
    def __init__(self, client: "redis.Redis", prefix: str, page: int = 1000) -> None:
        self._r = client
        self._hashes = f"{prefix}client:"
        self._page = page

    async def fingerprints(
        self, platform_id: str, client_task_ids: Sequence[str]
    ) -> dict[str, str]:
        if not client_task_ids:
            return {}
        raw = await self._r.hmget(f"{self._hashes}{platform_id}", list(client_task_ids))
        return {c: as_text(v) for c, v in zip(client_task_ids, raw, strict=True) if v is not None}

    async def bind(self, platform_id: str, accepted: Sequence[Accepted]) -> dict[str, str]:
        """Sets each id's fingerprint where the hash has none; returns those it holds with
        other content (the rest stay set: as the earlier versions did, last write loses)."""
        key = f"{self._hashes}{platform_id}"
        ids = [a.client_task_id for a in accepted]
        # One round trip: the read after the writes sees what they left.
        async with self._r.pipeline(transaction=False) as pipe:
            for a in accepted:
                pipe.hsetnx(key, a.client_task_id, a.fingerprint)
            pipe.hmget(key, ids)
            *_, held = await pipe.execute()
        return {
            a.client_task_id: as_text(printed)
            for a, printed in zip(accepted, held, strict=True)
            if as_text(printed) != a.fingerprint
        }

    async def pages(self) -> AsyncIterator[tuple[str, dict[str, str]]]:
        """(platform, {client task id: fingerprint}) a page at a time, until none are left."""
        pattern = self._hashes.translate(_GLOB_SPECIAL) + "*"
        async for key in self._r.scan_iter(match=pattern, count=self._page, _type="hash"):
            platform_id = as_text(key).removeprefix(self._hashes)
            cursor = None
            while cursor != 0:
                cursor, fields = await self._r.hscan(key, cursor or 0, count=self._page)
                assert isinstance(fields, dict)  # a list only when asked for no values
                if fields:
                    yield platform_id, {as_text(c): as_text(p) for c, p in fields.items()}

    async def forget(self, platform_id: str, client_task_ids: list[str]) -> None:
        await self._r.hdel(f"{self._hashes}{platform_id}", *client_task_ids)


class WithRedisHashes:
    """The record in PostgreSQL, and what the Redis hashes still hold counted as published.
    With `write_too` (while replicas of earlier versions run beside this one), each id is
    also bound in its hash before its task is published, since they read only there."""

    def __init__(
        self, record: ClientTaskIds, hashes: RedisClientHashes, write_too: bool = False
    ) -> None:
        self._record = record
        self._hashes = hashes
        self._write_too = write_too

    async def recorded(
        self, platform_id: str, client_task_ids: Sequence[str]
    ) -> dict[str, ClientTaskRecord]:
        # Both at once: the Redis read is on every call's way to its offer.
        found, earlier = await asyncio.gather(
            self._record.recorded(platform_id, client_task_ids),
            self._hashes.fingerprints(platform_id, client_task_ids),
        )
        published = IdState.PUBLISHED
        return {c: ClientTaskRecord(p, published) for c, p in earlier.items()} | found

    async def start_publishing(
        self, platform_id: str, accepted: Sequence[Accepted]
    ) -> dict[str, str]:
        if self._write_too:
            # Old replicas check only the hash: bound there first, as they bind.
            others = await self._hashes.bind(platform_id, accepted)
            if others:
                return others
        return await self._record.start_publishing(platform_id, accepted)

    async def mark_published(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        await self._record.mark_published(platform_id, accepted)

    async def record_outcomes(self, outcomes: Sequence[TaskOutcome]) -> None:
        await self._record.record_outcomes(outcomes)

    async def outcome(self, platform_id: str, task_id: str) -> TaskStatus | None:
        return await self._record.outcome(platform_id, task_id)


@dataclass
class Moved:
    ids: int = 0
    # (platform, client task id) recorded in PostgreSQL with another fingerprint: kept there.
    conflicts: list[tuple[str, str]] = field(default_factory=list)


async def move_client_ids(hashes: RedisClientHashes, record: PostgresClientTaskIds) -> Moved:
    """Moves every id the hashes hold to PostgreSQL (as published), deleting each page once it
    is there. Safe to run again, or on several machines at once."""
    moved = Moved()
    async for platform_id, prints in hashes.pages():
        conflicts = await record.adopt(platform_id, prints)
        await hashes.forget(platform_id, list(prints))
        moved.ids += len(prints)
        moved.conflicts += [(platform_id, c) for c in conflicts]
    return moved
