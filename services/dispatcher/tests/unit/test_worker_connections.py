"""Opening and closing sessions, as the WebSocket and SSE transports do."""

import asyncio
from datetime import timedelta

import pytest
from dispatcher_world import START, World, assert_gone_and_grace_runs, in_grace, store_replies_late

from dispatcher.entrypoints.worker_connections import WorkerConnections
from dispatcher.service_layer.auth import HelloOverrides, WorkerClaims

CLAIMS = WorkerClaims(
    worker_id="w1",
    region="eu",
    time_zone="UTC",
    skills=(),
    availability=(),
    sensitive_opt_in=False,
    token_id="t1",
    issued_at=START,
    expires_at=START + timedelta(days=1),
)


async def test_a_client_gone_while_connecting_leaves_no_connection_and_its_grace_runs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lease_id = await in_grace(world)
    made = store_replies_late(world, monkeypatch)
    opening = asyncio.create_task(
        WorkerConnections(world.dispatch).open(CLAIMS, HelloOverrides(), "sse")
    )
    await made.wait()
    opening.cancel()  # the client hung up (Starlette cancels the handler)
    with pytest.raises(asyncio.CancelledError):
        await opening

    await assert_gone_and_grace_runs(world, lease_id)
