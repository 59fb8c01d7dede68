"""Redis connection pools for services on a hot path.

redis-py's asyncio connections pack every command into the Redis protocol in Python (about
7 µs for a script call with a dozen arguments); its synchronous ones use hiredis's C packer
(about 1 µs), which the asyncio side lacks. A dispatcher makes a dozen calls per offer, so its
connections pack with hiredis too. For the arguments the services send (str, bytes, int,
float) the bytes on the wire are the same, and a bool or None is refused (DataError) as by
redis-py. Unlike redis-py's packer, hiredis refuses a bytearray or an enum too, and always
encodes str as strict UTF-8 (a URL's `encoding` option is not used).
"""

from typing import Any

import hiredis
import redis.asyncio as redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.exceptions import DataError


class _HiredisPacking:
    def pack_command(self, *args: Any) -> list[bytes]:
        # A command name with a space ("CONFIG GET") goes out as separate words, as redis-py's.
        head = args[0]
        if isinstance(head, str):
            args = (*head.encode().split(), *args[1:])
        elif b" " in head:
            args = (*head.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError as error:
            raise DataError(str(error)) from error


class HiredisPackedConnection(_HiredisPacking, Connection):
    pass


class HiredisPackedSSLConnection(_HiredisPacking, SSLConnection):
    pass


class HiredisPackedUnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    pass


_PACKED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: HiredisPackedConnection,
    SSLConnection: HiredisPackedSSLConnection,
    UnixDomainSocketConnection: HiredisPackedUnixConnection,
}


def blocking_pool(url: str, max_connections: int, timeout_s: float) -> redis.BlockingConnectionPool:
    """A pool of at most `max_connections` whose callers wait up to `timeout_s` for a free one
    (redis-py's default pool raises past its limit instead), packing with hiredis."""
    # As from_url: what the URL's query says wins; but from_url would let the URL's scheme
    # pick the connection class again.
    options: dict[str, Any] = {
        "max_connections": max_connections,
        "timeout": timeout_s,
        **parse_url(url),
    }
    options["connection_class"] = _PACKED[options.get("connection_class", Connection)]
    return redis.BlockingConnectionPool(**options)
