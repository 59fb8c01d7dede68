"""Handlers wired to in-memory fakes, as bootstrap would wire them to the real adapters."""

import itertools
import sys
from pathlib import Path

import pytest

from fairtask_runtime.clock import FakeClock

# --import-mode=importlib does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

from fairtask_runtime.grpc.sample_callers import Credentials, credentials_at
from payroll.adapters.memory import MemoryEntryPublisher, MemoryLedger
from payroll.service_layer.handlers import PayrollHandlers

FLOOR = 12_000_000


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
def publisher() -> MemoryEntryPublisher:
    return MemoryEntryPublisher()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def handlers(
    ledger: MemoryLedger, publisher: MemoryEntryPublisher, clock: FakeClock
) -> PayrollHandlers:
    ids = itertools.count(1)
    return PayrollHandlers(
        ledger=ledger,
        publisher=publisher,
        clock=clock,
        new_id=lambda: f"00000000-0000-7000-8000-{next(ids):012d}",
        floor_micros_per_hour=FLOOR,
    )


@pytest.fixture
async def credentials(clock: FakeClock) -> Credentials:
    return await credentials_at(clock)
