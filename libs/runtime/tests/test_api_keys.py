"""Platform API keys: one contract for the Redis store and its in-memory twin, and the CLI."""

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from fairtask_runtime.api_keys import MemoryPlatformKeys, PlatformKeys, RedisPlatformKeys
from fairtask_runtime.api_keys.__main__ import main as keys_cli
from fairtask_runtime.clock import FakeClock


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[PlatformKeys]:
    clock = FakeClock()
    if request.param == "memory":
        yield MemoryPlatformKeys(clock)
        return
    endpoints: Any = request.getfixturevalue("stack_endpoints")
    client = redis.from_url(endpoints.redis_url)
    prefix = f"k{uuid.uuid4().hex[:8]}:"
    try:
        yield RedisPlatformKeys(client, prefix, clock)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_an_issued_key_names_its_platform(store: PlatformKeys) -> None:
    issued = await store.issue("acme", label="ingest robot")
    assert issued.key.startswith(f"ftk_{issued.key_id}_")
    assert await store.verify(issued.key) == "acme"
    [info] = await store.keys()
    assert (info.key_id, info.platform_id, info.label, info.live) == (
        issued.key_id,
        "acme",
        "ingest robot",
        True,
    )
    assert info.created_at == issued.created_at


async def test_wrong_malformed_and_guessed_keys_are_refused(store: PlatformKeys) -> None:
    issued = await store.issue("acme")
    tampered = issued.key[:-1] + ("A" if issued.key[-1] != "A" else "B")
    other_id = "ftk_0123456789abcdef_" + issued.key.split("_", 2)[2]
    for wrong in (tampered, other_id, "", "ftk_", "Bearer x", issued.key_id, "ftk_zz_short"):
        assert await store.verify(wrong) is None, wrong


async def test_rotation_keeps_both_keys_until_the_old_one_is_revoked(
    store: PlatformKeys,
) -> None:
    old = await store.issue("acme")
    new = await store.issue("acme")
    other = await store.issue("globex")
    assert [await store.verify(k.key) for k in (old, new)] == ["acme", "acme"]
    assert await store.revoke(old.key_id)
    assert await store.verify(old.key) is None
    assert await store.verify(new.key) == "acme"
    assert await store.verify(other.key) == "globex"
    assert await store.revoke(old.key_id)  # idempotent
    assert not await store.revoke("0000000000000000")
    listed = {i.key_id: i.live for i in await store.keys("acme")}
    assert listed == {old.key_id: False, new.key_id: True}


async def test_a_malformed_platform_id_cannot_own_keys(store: PlatformKeys) -> None:
    for bad in ("", "Acme", "a/b", "has space", "x" * 64):
        with pytest.raises(ValueError, match="platform id"):
            await store.issue(bad)
    assert await store.keys() == []


@pytest.mark.integration
async def test_the_cli_issues_lists_and_revokes(stack_endpoints: Any) -> None:
    prefix = f"cli{uuid.uuid4().hex[:8]}:"
    common = ["--redis", stack_endpoints.redis_url, "--prefix", prefix]

    async def run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            # The CLI runs its own event loop; give it a thread of its own.
            code = await asyncio.to_thread(keys_cli, [*common, *args])
        return code, out.getvalue(), err.getvalue()

    code, key, note = await run("issue", "--platform", "acme", "--label", "ci")
    assert code == 0
    key = key.strip()
    assert key.startswith("ftk_")
    assert "shown only this once" in note
    client = redis.from_url(stack_endpoints.redis_url)
    try:
        store = RedisPlatformKeys(client, prefix)
        assert await store.verify(key) == "acme"
        stored = b"".join(
            v for v in (await client.hgetall(f"{prefix}key:{key.split('_')[1]}")).values()
        )
        assert key.split("_", 2)[2].encode() not in stored  # only the hash is kept
        code, listing, _ = await run("list", "--platform", "acme")
        assert code == 0
        assert "live" in listing
        assert key not in listing
        assert (await run("revoke", key.split("_")[1]))[0] == 0
        assert await store.verify(key) is None
        assert (await run("revoke", "0000000000000000"))[0] == 1
        assert (await run("issue", "--platform", "Not/Valid"))[0] == 2
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
