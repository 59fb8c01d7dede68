"""Who is calling: the platform whose API key the call carries.

A platform sends `authorization: Bearer ftk_...` metadata on every call. Every platform-facing
servicer asks `PlatformAuthenticator.platform_id(context)`, so the dispatcher and scoring accept
and refuse exactly the same keys.
"""

import hashlib
import time
from collections.abc import Callable

import grpc
import redis.asyncio as redis

from fairtask_runtime.api_keys import KeyStoreUnavailableError, PlatformKeys, RedisPlatformKeys
from fairtask_runtime.grpc.errors import resource_exhausted_status
from fairtask_runtime.rate_limits import RateLimit
from fairtask_runtime.settings import ServiceSettings

AUTHORIZATION = "authorization"
Context = grpc.aio.ServicerContext[object, object]
Metadata = tuple[tuple[str, str], ...]


def missing_message(what: str) -> str:
    return f"missing {what}: send gRPC metadata 'authorization: Bearer <credential>'"


MISSING_KEY = missing_message("platform API key")
REFUSED_KEY = "the platform API key is unknown or revoked"


def bearer(key: str) -> Metadata:
    """The call metadata that carries a platform API key."""
    return ((AUTHORIZATION, f"Bearer {key}"),)


class PlatformAuthenticator:
    """Verifies API keys against the shared store, remembering answers for `cache_s` seconds.

    With a `rate`, a platform past it is answered RESOURCE_EXHAUSTED with the time to wait.

    The cache spares the store a lookup per call; it is why a revoked key may still work for up
    to `cache_s` seconds, so keep it short. Wrong keys are cached too, so a client hammering with
    a bad key costs one lookup per `cache_s`.
    """

    def __init__(
        self,
        keys: PlatformKeys,
        cache_s: float = 2.0,
        max_cached: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
        rate: RateLimit | None = None,
    ) -> None:
        self._keys = keys
        self._rate = rate
        self._cache_s = cache_s
        self._max_cached = max_cached
        self._monotonic = monotonic
        self._cache: dict[bytes, tuple[str | None, float]] = {}

    async def platform_id(self, context: Context) -> str:
        """The calling platform; aborts with UNAUTHENTICATED for a missing, unknown or revoked
        key, and UNAVAILABLE when the key store cannot be asked."""
        key = presented_bearer(context)
        if key is None:
            await missing_credentials(context, "platform API key")
            raise AssertionError("abort returns only by raising")
        try:
            platform = await self._verify(key)
        except KeyStoreUnavailableError:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "cannot check the API key right now; retry"
            )
            raise AssertionError("abort returns only by raising") from None
        if platform is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSED_KEY)
            raise AssertionError("abort returns only by raising")
        wait_s = self._rate.retry_after(platform) if self._rate is not None else None
        if wait_s is not None:
            assert self._rate is not None
            message = f"more than {self._rate.description} calls from your platform"
            await context.abort_with_status(resource_exhausted_status(message, wait_s))
            raise AssertionError("abort returns only by raising")
        return platform

    async def _verify(self, key: str) -> str | None:
        # Cached by a hash, so the process keeps no whole keys in memory.
        name = hashlib.sha256(key.encode()).digest()
        now = self._monotonic()
        cached = self._cache.get(name)
        if cached is not None and cached[1] > now:
            return cached[0]
        platform = await self._keys.verify(key)
        if len(self._cache) >= self._max_cached:
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
            if len(self._cache) >= self._max_cached:
                self._cache.clear()
        self._cache[name] = (platform, now + self._cache_s)
        return platform


async def missing_credentials(context: Context, what: str) -> None:
    """Aborts the call with UNAUTHENTICATED, saying what to send and how."""
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, missing_message(what))


def presented_bearer(context: Context) -> str | None:
    """The credential of the call's `authorization: Bearer ...` metadata, if any."""
    for name, value in context.invocation_metadata() or ():
        if name != AUTHORIZATION or not isinstance(value, str):
            continue
        scheme, _, key = value.strip().partition(" ")
        if scheme.lower() == "bearer" and key.strip():
            return key.strip()
    return None


def authenticator_for(keys: PlatformKeys, settings: ServiceSettings) -> PlatformAuthenticator:
    """The platform authenticator a service's settings describe: their cache time and rate."""
    return PlatformAuthenticator(
        keys, settings.platform_key_cache_s, rate=RateLimit(settings.platform_rate_limit)
    )


def platform_keys_for(
    settings: ServiceSettings, service_redis: "redis.Redis"
) -> tuple[RedisPlatformKeys, "redis.Redis | None"]:
    """The key store a service's settings name, and the Redis client opened for it (None when
    the keys live in the service's own Redis), for the service to close on shutdown."""
    if not settings.platform_keys_redis_url:
        return RedisPlatformKeys(service_redis, settings.platform_keys_prefix), None
    own: redis.Redis = redis.from_url(settings.platform_keys_redis_url)
    return RedisPlatformKeys(own, settings.platform_keys_prefix), own
