"""A dispatcher started in-process, and the clients a worker and a platform use to reach it.

Imported by the transport and page tests as a plain module (conftest.py puts this folder on
sys.path).
"""

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from dispatcher.bootstrap import Dispatcher, bootstrap
from dispatcher.config import DispatcherSettings
from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg
from fairtask_localstack.topics import create_topics, delete_topics, topic_names
from fairtask_runtime.grpc.identity import Metadata
from fairtask_runtime.grpc.identity import bearer as bearer_key

PLATFORM_ID = "lab-a"
PURPOSE = "Lab A trains a model that finds cars in street photos"
SECRET = "integration-test-secret-of-at-least-32-characters"


def settings_for(endpoints: Any, topic_prefix: str, **extra: Any) -> DispatcherSettings:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    values: dict[str, Any] = {
        "kafka_bootstrap": endpoints.kafka_bootstrap,
        "redis_url": endpoints.redis_url,
        "redis_prefix": prefix,
        "postgres_dsn": endpoints.postgres_dsn,
        "platform_keys_prefix": f"{prefix}keys:",
        "topic_prefix": topic_prefix,
        "offer_ttl_s": 20.0,
        "grace_s": 30.0,
        "log_json": False,
        "shutdown_grace_s": 2.0,
        "worker_token_secret": SECRET,
        "hello_timeout_s": 2.0,
    }
    return DispatcherSettings(**(values | extra))


async def drop_tables(settings: DispatcherSettings) -> None:
    """The test dispatcher's PostgreSQL schema, as its Redis keys: gone after the test."""
    conn = await asyncpg.connect(settings.postgres_dsn, timeout=10)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{settings.tables_schema}" CASCADE')
    finally:
        await conn.close()


@asynccontextmanager
async def running(settings: DispatcherSettings) -> AsyncIterator["Running"]:
    service = bootstrap(settings)
    await service.runtime.start("127.0.0.1", 0, 0)
    assert service.runtime.grpc is not None
    assert service.runtime.http is not None
    http_port = service.runtime.http.port
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.runtime.grpc.port}")
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=10)
    app: Running | None = None
    try:
        key = (await service.platform_keys.issue(PLATFORM_ID)).key
        app = Running(service, channel, client, http_port, settings, bearer_key(key))
        yield app
    finally:
        await client.aclose()
        await channel.close()
        if app is None or not app.stopped:
            await service.runtime.stop()


@asynccontextmanager
async def dispatcher_for_tests(endpoints: Any, **settings: Any) -> AsyncIterator["Running"]:
    """A dispatcher on topics of its own, deleted afterwards."""
    prefix = f"w{uuid.uuid4().hex[:8]}."
    await create_topics(endpoints.kafka_bootstrap, prefix)
    try:
        settings_of_test = settings_for(endpoints, prefix, **settings)
        async with running(settings_of_test) as app:
            yield app
        await drop_tables(settings_of_test)
    finally:
        await delete_topics(endpoints.kafka_bootstrap, topic_names(prefix))


@dataclass
class Running:
    service: Dispatcher
    channel: grpc.aio.Channel
    http: httpx.AsyncClient
    http_port: int
    settings: DispatcherSettings
    # gRPC metadata carrying lab-a's API key.
    as_platform: Metadata
    stopped: bool = False

    async def stop(self) -> None:
        await self.service.runtime.stop()
        self.stopped = True

    @property
    def platform(self) -> dg.PlatformServiceStub:
        return dg.PlatformServiceStub(self.channel)

    async def lab(self, price_micros: int = 400_000, platform_id: str = PLATFORM_ID) -> "Lab":
        """A task type of its own, needing a skill of its own: tests sharing one dispatcher see
        only their own tasks, since no other test's worker has that skill. Defined by lab-a,
        or by `platform_id` with a key of its own."""
        caller = self.as_platform
        if platform_id != PLATFORM_ID:
            caller = bearer_key((await self.service.platform_keys.issue(platform_id)).key)
        lab = Lab(self, f"t{uuid.uuid4().hex[:10]}", platform_id, caller)
        task_type = d.TaskType(
            name=lab.name,
            purpose=PURPOSE,
            price_micros=price_micros,
            effort_seconds=90,
            skills=[lab.name],
        )
        await self.platform.DefineTaskType(
            d.DefineTaskTypeRequest(task_type=task_type), metadata=caller, timeout=5
        )
        return lab

    def ws_url(self, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.http_port}/v1/worker/ws{query}"


@dataclass
class Lab:
    app: Running
    name: str  # of the task type, and of the skill it needs
    platform_id: str
    as_platform: Metadata  # gRPC metadata with the platform's API key

    async def submit(self, client_id: str, payload: bytes = b"a photo of a street") -> str:
        task = d.NewTask(client_task_id=f"{self.name}-{client_id}", task_type=self.name)
        task.payload = payload
        answer = await self.app.platform.SubmitTasks(
            d.SubmitTasksRequest(tasks=[task]), metadata=self.as_platform, timeout=5
        )
        return answer.tasks[0].task_id

    async def register(self, worker_id: str = "", region: str = "ph", **fields: Any) -> str:
        """A token for a worker with this lab's skill, available all day (without a window the
        scheduler keeps quiet hours)."""
        body = {"region": region, "skills": [self.name], "availability": ["00:00-24:00"]}
        body |= fields
        if worker_id:
            body["worker_id"] = f"{self.name}-{worker_id}"
        reply = await self.app.http.post("/v1/workers", json=body)
        assert reply.status_code == 201, reply.text
        token: str = reply.json()["token"]
        return token


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class WsWorker:
    """A worker's end of the WebSocket, frame by frame."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator["WsWorker"]:
        async with connect(url, open_timeout=5) as socket:
            yield cls(socket)

    async def send(self, frame: Any) -> None:
        await self.socket.send(orjson.dumps(frame).decode())

    async def hello(self, token: str, **fields: Any) -> dict[str, Any]:
        await self.send({"hello": {"token": token, **fields}})
        return await self.next("welcome")

    async def next(self, kind: str, wait_s: float = 10) -> dict[str, Any]:
        frame = orjson.loads(await asyncio.wait_for(self.socket.recv(), wait_s))
        assert list(frame) == [kind], frame
        body: dict[str, Any] = frame[kind]
        return body


class SseWorker:
    """A worker's end of the event stream, event by event, plus the POSTs."""

    def __init__(self, http: httpx.AsyncClient, token: str, lines: AsyncIterator[str]) -> None:
        self._http = http
        self.token = token
        self._lines = lines
        self.comments: list[str] = []

    @classmethod
    @asynccontextmanager
    async def open(
        cls, http: httpx.AsyncClient, token: str, params: dict[str, Any] | None = None
    ) -> AsyncIterator["SseWorker"]:
        async with http.stream(
            "GET", "/v1/worker/events", headers=bearer(token), params=params
        ) as reply:
            assert reply.status_code == 200, await reply.aread()
            assert reply.headers["content-type"].startswith("text/event-stream")
            yield cls(http, token, reply.aiter_lines())

    async def event(self, wait_s: float = 10) -> tuple[str, dict[str, Any]]:
        return await asyncio.wait_for(self._event(), wait_s)

    async def _event(self) -> tuple[str, dict[str, Any]]:
        kind, data = "", ""
        async for line in self._lines:
            if line.startswith(":"):
                self.comments.append(line)
            elif line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif line == "" and kind:
                return kind, orjson.loads(data)
        raise AssertionError("the event stream ended")

    async def next(self, kind: str, wait_s: float = 10) -> dict[str, Any]:
        got, body = await self.event(wait_s)
        assert got == kind, (got, body)
        return body

    async def post(self, action: str, body: Any) -> httpx.Response:
        return await self._http.post(f"/v1/worker/{action}", json=body, headers=bearer(self.token))
