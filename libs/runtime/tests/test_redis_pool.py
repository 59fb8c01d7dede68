"""Connections packed by hiredis send what redis-py's own packer sends, refuse what it refuses,
and keep the URL's kind of connection."""

import uuid
from typing import Any

import pytest
import redis.asyncio as redis
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from fairtask_runtime.redis_pool import HiredisPackedConnection, blocking_pool

argument = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=32),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
command_name = st.sampled_from(["EVALSHA", "SET", "CONFIG GET", b"CLIENT LIST", b"XREAD"])


@given(command_name, st.lists(argument, max_size=12))
def test_the_same_bytes_as_redis_pys_packer(name: Any, args: list[Any]) -> None:
    ours = HiredisPackedConnection().pack_command(name, *args)
    theirs = Connection().pack_command(name, *args)
    assert b"".join(ours) == b"".join(theirs)


def test_a_pipeline_packs_the_same() -> None:
    commands = [("SET", "k", 1), ("EVALSHA", "a" * 40, 2, "k1", "k2", b"\x00\xff", 2.5)]
    ours = HiredisPackedConnection().pack_commands(commands)
    assert b"".join(ours) == b"".join(Connection().pack_commands(commands))


@pytest.mark.parametrize("bad", [True, None, object()])
def test_refuses_what_redis_py_refuses(bad: object) -> None:
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", bad)
    with pytest.raises(DataError):
        HiredisPackedConnection().pack_command("SET", "k", bad)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://127.0.0.1:6379/2", Connection),
        ("rediss://127.0.0.1:6380/0", SSLConnection),
        ("unix:///tmp/redis.sock", UnixDomainSocketConnection),
    ],
)
def test_keeps_the_urls_kind_of_connection(url: str, kind: type) -> None:
    pool = blocking_pool(url, max_connections=3, timeout_s=0.5)
    made = pool.connection_class
    assert issubclass(made, kind)
    assert made.pack_command is HiredisPackedConnection.pack_command
    assert pool.max_connections == 3
    assert pool.timeout == 0.5


def test_the_urls_database_and_host_are_kept() -> None:
    pool = blocking_pool("redis://example.invalid:7000/4", max_connections=1, timeout_s=1)
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("example.invalid", 7000, 4)


def test_what_the_urls_query_says_wins_as_with_from_url() -> None:
    url = "redis://example.invalid:7000/0?max_connections=7&timeout=2.5&socket_timeout=9"
    pool = blocking_pool(url, max_connections=64, timeout_s=5.0)
    theirs = redis.BlockingConnectionPool.from_url(url, max_connections=64, timeout=5.0)
    assert (pool.max_connections, pool.timeout) == (theirs.max_connections, theirs.timeout)
    assert pool.connection_kwargs["socket_timeout"] == 9.0


@pytest.mark.integration
async def test_commands_and_scripts_round_trip(stack_endpoints: Any) -> None:
    client = redis.Redis(connection_pool=blocking_pool(stack_endpoints.redis_url, 4, 5.0))
    text, number = f"redis-pool:{uuid.uuid4().hex}", f"redis-pool:{uuid.uuid4().hex}"
    try:
        await client.set(text, "é\x00")
        assert await client.get(text) == "é\x00".encode()
        script = client.register_script("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}")
        assert await script(keys=["k"], args=[b"\xff", 41]) == [b"k", b"\xff", 42]
        async with client.pipeline(transaction=True) as pipe:
            pipe.incr(number, 2)
            pipe.get(number)
            assert await pipe.execute() == [2, b"2"]
    finally:
        await client.delete(text, number)
        await client.aclose()
