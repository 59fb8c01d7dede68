"""Scoring's handlers wired to the in-memory fakes."""

import pytest

from fairtask_runtime.clock import FakeClock
from scoring.adapters.memory import MemoryPorts
from scoring.service_layer.handlers import ScoringHandlers, WatchConfig


@pytest.fixture
def ports() -> MemoryPorts:
    return MemoryPorts()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def handlers(ports: MemoryPorts, clock: FakeClock) -> ScoringHandlers:
    return ports.handlers(clock, WatchConfig(batch=2, block_s=0.05))
