"""Where platform API keys live: Redis, shared by every service that serves platforms.

Layout under the prefix (default `platform-keys:`):
  key:<key id>   hash  platform_id, sha256 (of the secret), created_ms, revoked_ms, label
  keys           zset  key ids by creation time, for listing
"""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from fairtask_runtime.api_keys.keys import (
    IssuedKey,
    KeyInfo,
    KeyStoreUnavailableError,
    new_secret,
    platform_id_problem,
    secret_matches,
    split_key,
)
from fairtask_runtime.clock import Clock, SystemClock

DEFAULT_PREFIX = "platform-keys:"


class PlatformKeys(Protocol):
    async def issue(self, platform_id: str, label: str = "") -> IssuedKey:
        """A new live key for the platform; its other keys stay live (rotation). Raises
        ValueError for a malformed platform id."""
        ...

    async def verify(self, key: str) -> str | None:
        """The platform of a live key; None for a malformed, unknown or revoked one. Raises
        KeyStoreUnavailableError when the store cannot be asked."""
        ...

    async def revoke(self, key_id: str) -> bool:
        """Revokes the key for good; False when there is no such key. Idempotent."""
        ...

    async def keys(self, platform_id: str | None = None) -> list[KeyInfo]:
        """Every key (of one platform, if given), oldest first. Never the secrets."""
        ...


def _checked(platform_id: str) -> str:
    if (problem := platform_id_problem(platform_id)) is not None:
        raise ValueError(problem)
    return platform_id


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class RedisPlatformKeys:
    def __init__(
        self, client: "redis.Redis", prefix: str = DEFAULT_PREFIX, clock: Clock | None = None
    ) -> None:
        self._r = client
        self._p = prefix
        self._clock = clock or SystemClock()

    async def issue(self, platform_id: str, label: str = "") -> IssuedKey:
        fresh = new_secret()
        now = _at(_ms(self._clock.now()))
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(
                f"{self._p}key:{fresh.key_id}",
                mapping={
                    "platform_id": _checked(platform_id),
                    "sha256": fresh.digest,
                    "created_ms": _ms(now),
                    "label": label,
                },
            )
            pipe.zadd(f"{self._p}keys", {fresh.key_id: _ms(now)})
            await pipe.execute()
        return IssuedKey(fresh.key_id, platform_id, fresh.key, now)

    async def verify(self, key: str) -> str | None:
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        try:
            owner, digest, revoked = await self._r.hmget(
                f"{self._p}key:{key_id}", ["platform_id", "sha256", "revoked_ms"]
            )
        except RedisError as error:
            raise KeyStoreUnavailableError(str(error)) from error
        if owner is None or digest is None or revoked is not None:
            return None
        if not secret_matches(secret, _text(digest)):
            return None
        return _text(owner)

    async def revoke(self, key_id: str) -> bool:
        name = f"{self._p}key:{key_id}"
        if not await self._r.exists(name):
            return False
        # HSETNX: revoking again keeps the first revocation time.
        await self._r.hsetnx(name, "revoked_ms", _ms(self._clock.now()))
        return True

    async def keys(self, platform_id: str | None = None) -> list[KeyInfo]:
        found: list[KeyInfo] = []
        for raw_id in await self._r.zrange(f"{self._p}keys", 0, -1):
            key_id = _text(raw_id)
            fields = {
                _text(k): _text(v)
                for k, v in (await self._r.hgetall(f"{self._p}key:{key_id}")).items()
            }
            if not fields or (platform_id is not None and fields["platform_id"] != platform_id):
                continue
            revoked = fields.get("revoked_ms")
            found.append(
                KeyInfo(
                    key_id,
                    fields["platform_id"],
                    _at(int(fields["created_ms"])),
                    _at(int(revoked)) if revoked else None,
                    fields.get("label", ""),
                )
            )
        return found


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class MemoryPlatformKeys:
    """The in-memory twin of RedisPlatformKeys, for tests and fakes."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._keys: dict[str, tuple[KeyInfo, str]] = {}  # key id -> (info, digest)
        self.unavailable = False

    async def issue(self, platform_id: str, label: str = "") -> IssuedKey:
        fresh = new_secret()
        now = _at(_ms(self._clock.now()))
        info = KeyInfo(fresh.key_id, _checked(platform_id), now, None, label)
        self._keys[fresh.key_id] = (info, fresh.digest)
        return IssuedKey(fresh.key_id, platform_id, fresh.key, now)

    async def verify(self, key: str) -> str | None:
        if self.unavailable:
            raise KeyStoreUnavailableError("the key store is unavailable")
        parts = split_key(key)
        if parts is None or parts[0] not in self._keys:
            return None
        info, digest = self._keys[parts[0]]
        if not info.live or not secret_matches(parts[1], digest):
            return None
        return info.platform_id

    async def revoke(self, key_id: str) -> bool:
        if key_id not in self._keys:
            return False
        info, digest = self._keys[key_id]
        if info.live:
            revoked_at = _at(_ms(self._clock.now()))
            self._keys[key_id] = (replace(info, revoked_at=revoked_at), digest)
        return True

    async def keys(self, platform_id: str | None = None) -> list[KeyInfo]:
        return [
            info
            for info, _ in self._keys.values()
            if platform_id is None or info.platform_id == platform_id
        ]
