"""Stopping the HTTP side ends within its grace even while a client holds a request open."""

import asyncio
import time

import httpx
from fastapi import FastAPI

from fairtask_runtime.http.app import HttpServer


async def test_a_request_that_never_ends_does_not_hold_the_stop() -> None:
    app = FastAPI()
    answering = asyncio.Event()

    @app.get("/forever")
    async def forever() -> None:
        answering.set()
        await asyncio.sleep(3600)

    server = HttpServer(app, "127.0.0.1", 0, grace_s=1.0)
    await server.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        pending = asyncio.create_task(client.get("/forever", timeout=60))
        await asyncio.wait_for(answering.wait(), 10)

        began = time.monotonic()
        await asyncio.wait_for(server.stop(), 30)
        stopped_in_s = time.monotonic() - began

        pending.cancel()
    assert stopped_in_s < 5, f"stopping took {stopped_in_s:.1f} s"
