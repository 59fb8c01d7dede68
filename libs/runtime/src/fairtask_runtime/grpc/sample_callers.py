"""Callers for tests of services that workers, platforms and operators all call: an operator,
two platforms and workers, with their keys and tokens, checked by a CallerAuthenticator."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from fairtask_runtime.api_keys import MemoryPlatformKeys
from fairtask_runtime.clock import Clock
from fairtask_runtime.grpc.callers import CallerAuthenticator
from fairtask_runtime.grpc.identity import Metadata, PlatformAuthenticator, bearer
from fairtask_runtime.revoked_tokens import MemoryRevokedTokens
from fairtask_runtime.settings import DEFAULT_OPERATOR_PLATFORM_ID
from fairtask_runtime.worker_tokens import JwtTokenCodec, WorkerClaims


@dataclass(frozen=True)
class Credentials:
    """Who may call, and the call metadata each one sends."""

    callers: CallerAuthenticator
    # The same keys, for services (or methods) only platforms call.
    platforms: PlatformAuthenticator
    operator: Metadata
    platform: Metadata  # lab-a
    other_platform: Metadata  # lab-b
    workers: dict[str, Metadata]
    expired_worker: Metadata
    revoked_worker: Metadata


TOKEN_SECRET = "a-test-secret-of-at-least-thirty-two-characters"


def worker_token(
    codec: JwtTokenCodec, worker_id: str, issued: datetime, ttl: timedelta, token_id: str = ""
) -> str:
    token_id = token_id or f"t-{worker_id}"
    claims = WorkerClaims(worker_id, "ke", "UTC", (), (), False, token_id, issued, issued + ttl)
    return codec.encode(claims)


async def credentials_at(clock: Clock) -> Credentials:
    keys = MemoryPlatformKeys()
    operator = await keys.issue(DEFAULT_OPERATOR_PLATFORM_ID)
    platform = await keys.issue("lab-a")
    other_platform = await keys.issue("lab-b")
    codec = JwtTokenCodec(TOKEN_SECRET)
    now, day = clock.now(), timedelta(days=1)
    revoked = MemoryRevokedTokens(clock)
    await revoked.revoke("t-signed-out", now + day)
    platforms = PlatformAuthenticator(keys)
    return Credentials(
        callers=CallerAuthenticator(platforms, codec, clock, DEFAULT_OPERATOR_PLATFORM_ID, revoked),
        platforms=platforms,
        operator=bearer(operator.key),
        platform=bearer(platform.key),
        other_platform=bearer(other_platform.key),
        workers={w: bearer(worker_token(codec, w, now, day)) for w in ("w-1", "w-2")},
        expired_worker=bearer(worker_token(codec, "w-1", now - 2 * day, day)),
        revoked_worker=bearer(worker_token(codec, "w-1", now, day, token_id="t-signed-out")),
    )
