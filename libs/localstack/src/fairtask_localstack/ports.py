"""Free loopback ports, and the set of ports one stack listens on."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """Return `count` distinct loopback ports that were free a moment ago.

    Each port comes from binding to port 0, which lets the kernel pick an unused one at random, so
    two checkouts on one machine do not race for a fixed range. All sockets stay open until every
    port is picked, so the ports are distinct. A port can still be taken before the server binds it;
    callers retry with fresh ports when a server reports "Address already in use".
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            # No listen(): a socket that never listened leaves no TIME_WAIT behind on close.
            sock.bind((LOOPBACK, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def port_open(port: int, host: str = LOOPBACK, timeout_s: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port. Never raises."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def port_free(port: int, host: str = LOOPBACK) -> bool:
    """True if a server could bind host:port right now. Never raises."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers do, so a port in TIME_WAIT after an earlier run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class Ports:
    """The loopback ports one stack listens on."""

    kafka: int
    kafka_controller: int
    redis: int
    postgres: int

    def all(self) -> tuple[int, int, int, int]:
        return (self.kafka, self.kafka_controller, self.redis, self.postgres)

    @classmethod
    def pick(cls) -> Ports:
        kafka, controller, redis, postgres = free_ports(4)
        return cls(kafka=kafka, kafka_controller=controller, redis=redis, postgres=postgres)
