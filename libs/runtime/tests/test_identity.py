"""The one way a service learns which platform calls: the bearer key, verified and cached."""

from typing import Any

import grpc
import pytest

from fairtask_runtime.api_keys import MemoryPlatformKeys
from fairtask_runtime.grpc.identity import MISSING_KEY, REFUSED_KEY, PlatformAuthenticator, bearer


class AbortedError(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details


class FakeContext:
    """The two things the authenticator uses of a grpc.aio ServicerContext."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise AbortedError(code, details)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def caller(auth: PlatformAuthenticator, metadata: tuple[tuple[str, str], ...]) -> Any:
    try:
        return await auth.platform_id(FakeContext(metadata))  # type: ignore[arg-type]
    except AbortedError as aborted:
        return aborted.code, aborted.details


async def test_the_bearer_key_names_the_platform() -> None:
    keys = MemoryPlatformKeys()
    issued = await keys.issue("acme")
    auth = PlatformAuthenticator(keys)
    assert await caller(auth, bearer(issued.key)) == "acme"
    assert await caller(auth, (("authorization", f"bearer   {issued.key} "),)) == "acme"


@pytest.mark.parametrize(
    ("metadata", "details"),
    [
        ((), MISSING_KEY),
        ((("x-platform-id", "acme"),), MISSING_KEY),  # the old trusted header means nothing
        ((("authorization", "Basic abc"),), MISSING_KEY),
        ((("authorization", "Bearer "),), MISSING_KEY),
        (bearer("ftk_0123456789abcdef_" + "x" * 43), REFUSED_KEY),
        (bearer("not-a-key"), REFUSED_KEY),
    ],
)
async def test_missing_and_wrong_keys_are_unauthenticated(
    metadata: tuple[tuple[str, str], ...], details: str
) -> None:
    auth = PlatformAuthenticator(MemoryPlatformKeys())
    assert await caller(auth, metadata) == (grpc.StatusCode.UNAUTHENTICATED, details)


async def test_a_revoked_key_stops_working_once_the_cache_time_is_up() -> None:
    keys, ticks = MemoryPlatformKeys(), Ticks()
    issued = await keys.issue("acme")
    auth = PlatformAuthenticator(keys, cache_s=2.0, monotonic=ticks)
    assert await caller(auth, bearer(issued.key)) == "acme"
    await keys.revoke(issued.key_id)
    ticks.now += 1.9
    assert await caller(auth, bearer(issued.key)) == "acme"  # still cached
    ticks.now += 0.2
    assert await caller(auth, bearer(issued.key)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        REFUSED_KEY,
    )


async def test_an_unreachable_key_store_is_unavailable_not_a_refusal() -> None:
    keys = MemoryPlatformKeys()
    issued = await keys.issue("acme")
    keys.unavailable = True
    code, _ = await caller(PlatformAuthenticator(keys), bearer(issued.key))
    assert code == grpc.StatusCode.UNAVAILABLE


async def test_the_cache_stays_bounded_under_a_flood_of_wrong_keys() -> None:
    keys = MemoryPlatformKeys()
    issued = await keys.issue("acme")
    auth = PlatformAuthenticator(keys, max_cached=50)
    for i in range(500):
        await caller(auth, bearer(f"ftk_{i:016x}_" + "y" * 43))
    assert len(auth._cache) <= 50
    assert await caller(auth, bearer(issued.key)) == "acme"
