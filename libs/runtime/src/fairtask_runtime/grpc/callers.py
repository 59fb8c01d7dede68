"""Who is calling a service that workers, platforms and operators all call (payroll).

Every caller sends `authorization: Bearer <credential>`: a worker their signed token, a
platform or an operator an API key (`ftk_...`). An operator is whoever holds a key issued to
the operators' platform id. What each may do is the servicer's decision; this only says who it
is, or aborts with UNAUTHENTICATED.
"""

from dataclasses import dataclass
from enum import StrEnum

import grpc
import redis.asyncio as redis

from fairtask_runtime.api_keys.keys import KEY_PREFIX
from fairtask_runtime.clock import Clock
from fairtask_runtime.grpc.identity import (
    Context,
    PlatformAuthenticator,
    missing_credentials,
    presented_bearer,
)
from fairtask_runtime.revoked_tokens import RedisRevokedTokens, RevokedTokens
from fairtask_runtime.settings import ServiceSettings
from fairtask_runtime.worker_tokens import JwtTokenCodec, UnauthenticatedError, codec_for


class CallerKind(StrEnum):
    WORKER = "worker"
    PLATFORM = "platform"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    id: str  # the worker id, or the platform id


class CallerAuthenticator:
    def __init__(
        self,
        platforms: PlatformAuthenticator,
        tokens: JwtTokenCodec,
        clock: Clock,
        operator_platform_id: str,
        revoked: RevokedTokens,
    ) -> None:
        self._platforms = platforms
        self._tokens = tokens
        self._clock = clock
        self._operators = operator_platform_id
        self._revoked = revoked

    async def caller(self, context: Context) -> Caller:
        credential = presented_bearer(context)
        if credential is None:
            await missing_credentials(context, "a worker token or an API key")
            raise AssertionError("abort returns only by raising")
        if credential.startswith(f"{KEY_PREFIX}_"):
            platform = await self._platforms.platform_id(context)
            kind = CallerKind.OPERATOR if platform == self._operators else CallerKind.PLATFORM
            return Caller(kind, platform)
        try:
            claims = self._tokens.decode(credential)
        except UnauthenticatedError as error:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(error))
            raise AssertionError("abort returns only by raising") from None
        if claims.expires_at <= self._clock.now():
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "the worker token has expired")
            raise AssertionError("abort returns only by raising")
        if await self._revoked.is_revoked(claims.token_id):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "the worker token was revoked")
            raise AssertionError("abort returns only by raising")
        return Caller(CallerKind.WORKER, claims.worker_id)


def callers_for(
    settings: ServiceSettings,
    platforms: PlatformAuthenticator,
    clock: Clock,
    identity: redis.Redis,
) -> CallerAuthenticator:
    """Who may call a service that workers, platforms and operators all call: workers by
    their tokens (signature, expiry, revocation in `identity`, the Redis of the shared
    identity store that also holds the platform keys), platforms and operators by their API
    keys."""
    return CallerAuthenticator(
        platforms,
        codec_for(settings.worker_token_secret),
        clock,
        settings.operator_platform_id,
        RedisRevokedTokens(identity, settings.revoked_tokens_prefix),
    )
