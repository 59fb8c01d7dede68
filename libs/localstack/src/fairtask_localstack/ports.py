"""Free loopback ports, and the set of ports one stack listens on."""

from __future__ import annotations

import contextlib
import random
import socket
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


# Where the kernel takes the local ports of outgoing connections (Kafka clients, tests, every
# service's calls): a port picked there can be taken by one of them before its server binds it.
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000


def free_ports(count: int) -> list[int]:
    """Return `count` distinct loopback ports that were free a moment ago.

    Picked at random below the kernel's range for outgoing connections, so no client socket
    can take one before its server binds it (with ports the kernel handed out, a service's
    start failed now and then with "Address already in use"), and two checkouts on one machine
    do not race for a fixed list. All sockets stay bound until every port is picked, so the
    ports are distinct. Another checkout may still pick the same port at the same moment.
    """
    low = _ephemeral_low()
    candidates = random.sample(range(_LOWEST, low), min(low - _LOWEST, 20 * count + 100))
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for port in candidates:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                # No listen(): a socket that never listened leaves no TIME_WAIT behind.
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            ports.append(port)
            if len(ports) == count:
                return ports
    raise OSError(f"no {count} free loopback ports below {low}")


def _ephemeral_low() -> int:
    try:
        low = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768
    return max(low, _LOWEST + 1_000)


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
