"""Opening and closing sessions, as the WebSocket and SSE transports do."""

import asyncio
from datetime import datetime, timedelta

import pytest
from dispatcher_world import CONFIG, START, World, drain, hello, make_task, offers_in

from dispatcher.domain.events import LeaseReleased
from dispatcher.entrypoints.worker_connections import WorkerConnections
from dispatcher.service_layer.auth import HelloOverrides, WorkerClaims
from dispatcher.service_layer.ports import Connection
from dispatcher.service_layer.sessions import Hello

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
    await world.dispatch.ingest(make_task("c1"))
    first = await world.dispatch.connect(hello("w1"))
    await world.dispatch._dispatch_round()
    [offer] = offers_in(drain(first))
    await world.dispatch.accept(first, offer.offer.offer_id)
    await world.dispatch.disconnect(first)
    connections = WorkerConnections(world.dispatch)
    connect_worker = world.store.connect_worker
    made = asyncio.Event()

    async def round_trip(hello: Hello, now: datetime) -> Connection:
        connection = await connect_worker(hello, now)  # done in the store...
        made.set()
        await asyncio.sleep(0.01)  # ...the reply still on its way
        return connection

    monkeypatch.setattr(world.store, "connect_worker", round_trip)
    opening = asyncio.create_task(connections.open(CLAIMS, HelloOverrides(), "sse"))
    await made.wait()
    opening.cancel()  # the client hung up (Starlette cancels the handler)
    with pytest.raises(asyncio.CancelledError):
        await opening

    assert world.dispatch.session("w1") is None
    assert "w1" not in world.store.state.conns
    world.clock.advance(CONFIG.grace_s)
    await world.dispatch._release_overdue_leases()
    assert len(world.events.of_type(LeaseReleased)) == 1
