"""Ports for the stack and the services: distinct, bindable, and never where the kernel
takes the local ports of outgoing connections, which could take one first."""

import socket

import pytest

from fairtask_localstack import ports
from fairtask_localstack.ports import LOOPBACK, free_ports


def test_ports_are_distinct_bindable_and_below_the_outgoing_range() -> None:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    ports = free_ports(12)
    assert len(set(ports)) == 12
    assert all(10_000 <= port < low for port in ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, port))


def test_a_port_in_use_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    (in_use,) = free_ports(1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((LOOPBACK, in_use))
        taken.listen()
        # The random pick lands on the port in use first.
        monkeypatch.setattr(
            ports.random, "sample", lambda population, k: [in_use, *range(in_use + 1, in_use + k)]
        )
        picked = free_ports(2)
        assert in_use not in picked
        assert len(set(picked)) == 2
