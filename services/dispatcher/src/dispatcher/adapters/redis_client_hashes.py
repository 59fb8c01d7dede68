"""Client task ids as versions until 2026-12-07 kept them: a Redis hash per platform
(`<prefix>client:<platform>`, id -> fingerprint), never trimmed. Read once, to move them to
PostgreSQL, and removed as they are moved."""

from collections.abc import AsyncIterator

import redis.asyncio as redis

from dispatcher.adapters.values import as_text

_GLOB_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\*?[]"})


class RedisClientHashes:
    def __init__(self, client: "redis.Redis", prefix: str, page: int = 1000) -> None:
        self._r = client
        self._hashes = f"{prefix}client:"
        self._page = page

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
