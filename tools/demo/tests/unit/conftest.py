from collections.abc import AsyncIterator

import pytest

from fairtask_demo.fakes import FakeServices, serve_fakes


@pytest.fixture
async def fake_services() -> AsyncIterator[FakeServices]:
    server, services = await serve_fakes()
    try:
        yield services
    finally:
        await server.stop(0)
