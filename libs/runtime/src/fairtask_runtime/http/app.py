"""The HTTP side of a service: /metrics and /healthz on FastAPI, served by uvicorn in-process."""

import asyncio
import math
import socket

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest


def build_http_app(title: str) -> FastAPI:
    # `_created` samples double the series count and no dashboard or alert uses them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    app = FastAPI(title=title)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class HttpServer:
    """Runs a uvicorn server as a task in the current loop; `port` is known after start."""

    def __init__(self, app: FastAPI, host: str, port: int, grace_s: float = 10.0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="auto",
            # Stopping waits this long for open connections and their tasks, then cancels
            # them: left to itself uvicorn waits for a client that never closes forever.
            timeout_graceful_shutdown=math.ceil(grace_s),
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._task
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
