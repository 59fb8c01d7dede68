"""A Kafka request written on uvloop to a connection already closed is a connection error
aiokafka retries, not a RuntimeError that kills its metadata task (aio-libs/aiokafka#1038)."""

import asyncio
from typing import Any

import pytest
import uvloop
from aiokafka.conn import AIOKafkaConnection
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.metadata import MetadataRequest

import fairtask_runtime.kafka  # noqa: F401  (installs the guard)


async def _closed_uvloop_stream() -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Any]:
    """A real uvloop stream whose transport has closed under it, and its server."""
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.transport.close()
    await asyncio.sleep(0.05)
    return reader, writer, server


def test_uvloop_raises_runtime_error_on_such_a_write() -> None:
    """What the guard is for: uvloop's own behaviour, checked so a change in it is seen."""

    async def scenario() -> None:
        _, writer, server = await _closed_uvloop_stream()
        with pytest.raises(RuntimeError, match="closed"):
            writer.write(b"request")
        server.close()

    uvloop.run(scenario())


def test_a_write_to_a_closed_connection_is_a_kafka_connection_error() -> None:
    async def scenario() -> None:
        reader, writer, server = await _closed_uvloop_stream()
        # A connection as aiokafka leaves it after its handshake, before its reading task
        # has noticed the broker hung up.
        conn = AIOKafkaConnection("127.0.0.1", 9)
        conn._reader, conn._writer = reader, writer
        conn._read_task = asyncio.create_task(asyncio.sleep(60))
        conn._versions = {3: (0, 0)}  # MetadataRequest v0
        with pytest.raises(KafkaConnectionError, match="broken"):
            conn.send(MetadataRequest([]))
        assert conn._writer is None  # closed: the client reconnects on its next request
        server.close()

    uvloop.run(scenario())
