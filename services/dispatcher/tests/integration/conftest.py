import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

# The tests share `worker_clients`; --import-mode=importlib does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

from dispatcher_processes import Dispatchers
from worker_clients import Running, dispatcher_for_tests


@pytest.fixture(scope="session")
async def app(stack_endpoints: Any) -> AsyncIterator[Running]:
    """One dispatcher for every worker-transport test (starting one takes seconds); each test
    keeps to a task type of its own through `app.lab()`."""
    async with dispatcher_for_tests(stack_endpoints, offer_ttl_s=2.0, sse_keepalive_s=0.5) as app:
        yield app


@pytest.fixture(scope="module")
async def slow_app(stack_endpoints: Any) -> AsyncIterator[Running]:
    """As `app`, with the times a person needs: offers for a minute, two minutes of grace."""
    async with dispatcher_for_tests(stack_endpoints, offer_ttl_s=60.0, grace_s=120.0) as app:
        yield app


@pytest.fixture
async def dispatchers(
    stack_endpoints: Any, kafka_topics: str, tmp_path: Path
) -> AsyncIterator[Dispatchers]:
    """Dispatcher processes on this test's topics, quick to notice a dead replica: its
    liveness runs out in 2 s, and the consumer group hands its partitions over after 6 s (the
    least the broker allows)."""
    settings = {
        "FAIRTASK_OFFER_TTL_S": "4",
        "FAIRTASK_GRACE_S": "30",
        "FAIRTASK_REPLICA_TTL_S": "2",
        "FAIRTASK_CONSUMER_SESSION_TIMEOUT_S": "6",
        "FAIRTASK_SHUTDOWN_GRACE_S": "2",
    }
    running = Dispatchers(stack_endpoints, kafka_topics, tmp_path / "logs", settings)
    try:
        yield running
    finally:
        await running.stop()
