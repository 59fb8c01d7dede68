"""Dispatchers as real processes (started as `make run` starts them, with FAIRTASK_* settings),
a platform feeding them tasks, and the books kept afterwards from Redis and Kafka.

Imported as a plain module (conftest.py puts this folder on sys.path).
"""

import asyncio
import os
import re
import signal
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import redis.asyncio as redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from worker_clients import drop_tables

from dispatcher.config import DispatcherSettings
from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg
from fairtask.v1 import envelope_pb2
from fairtask_demo.supervisor import ServiceProcess, service_env
from fairtask_localstack.ports import free_ports
from fairtask_localstack.topics import PARTITIONS
from fairtask_runtime.api_keys import RedisPlatformKeys
from fairtask_runtime.grpc.identity import Metadata, bearer

PLATFORM_ID = "lab-a"
PURPOSE = "Lab A trains a model that finds cars in street photos"
SECRET = "integration-test-secret-of-at-least-32-characters"


@dataclass
class Dispatchers:
    """Dispatcher processes sharing one Redis prefix and one set of topics: replicas."""

    endpoints: Any
    topic_prefix: str
    log_dir: Path
    settings: dict[str, str]
    redis_prefix: str = field(default_factory=lambda: f"r{uuid.uuid4().hex[:8]}:")
    running: list[ServiceProcess] = field(default_factory=list)

    def start(
        self, process: ServiceProcess | None = None, extra: dict[str, str] | None = None
    ) -> ServiceProcess:
        """Starts a new replica (with `extra` settings), or `process` again on its ports."""
        if process is None:
            grpc_port, http_port = free_ports(2)
            log = self.log_dir / f"dispatcher-{len(self.running)}.log"
            process = ServiceProcess("dispatcher", grpc_port, http_port, log)
            self.running.append(process)
        env = service_env(self.endpoints.to_env(), process, self.topic_prefix)
        env |= {
            "FAIRTASK_REDIS_PREFIX": self.redis_prefix,
            "FAIRTASK_PLATFORM_KEYS_PREFIX": f"{self.redis_prefix}keys:",
            "FAIRTASK_WORKER_TOKEN_SECRET": SECRET,
            "FAIRTASK_LOG_JSON": "false",
        }
        process.start(env | self.settings | (extra or {}), Path.cwd())
        return process

    def kill(self, process: ServiceProcess) -> None:
        """kill -9: no goodbye, no flush, no commit."""
        assert process.process is not None
        os.killpg(process.process.pid, signal.SIGKILL)
        process.process.wait(10)

    async def stop(self) -> None:
        for process in self.running:
            await process.stop(10)
        await drop_tables(self.tables())

    def tables(self) -> DispatcherSettings:
        """The settings the processes read their PostgreSQL schema from."""
        return DispatcherSettings(
            postgres_dsn=self.endpoints.postgres_dsn, redis_prefix=self.redis_prefix
        )

    def redis(self) -> "redis.Redis":
        return redis.from_url(self.endpoints.redis_url)


class Platform:
    """Lab A, over the PlatformService of whichever dispatcher it is pointed at."""

    def __init__(self, key: Metadata) -> None:
        self._key = key

    @classmethod
    async def for_(cls, dispatchers: Dispatchers) -> "Platform":
        client = dispatchers.redis()
        try:
            keys = RedisPlatformKeys(client, f"{dispatchers.redis_prefix}keys:")
            return cls(bearer((await keys.issue(PLATFORM_ID)).key))
        finally:
            await client.aclose()

    async def define(self, target: str, name: str, skill: str) -> None:
        task_type = d.TaskType(
            name=name, purpose=PURPOSE, price_micros=400_000, effort_seconds=60, skills=[skill]
        )
        async with grpc.aio.insecure_channel(target) as channel:
            await dg.PlatformServiceStub(channel).DefineTaskType(
                d.DefineTaskTypeRequest(task_type=task_type), metadata=self._key, timeout=10
            )

    async def submit(self, target: str, tasks: list[tuple[str, str]]) -> list[str]:
        """Submits (task type, client id) pairs; returns the task ids."""
        batch = [d.NewTask(client_task_id=c, task_type=t, payload=b"a photo") for t, c in tasks]
        async with grpc.aio.insecure_channel(target) as channel:
            answer = await dg.PlatformServiceStub(channel).SubmitTasks(
                d.SubmitTasksRequest(tasks=batch), metadata=self._key, timeout=10
            )
        return [t.task_id for t in answer.tasks]


async def register(target: str, worker_id: str, skills: list[str]) -> str:
    """A token for a worker available all day (the scheduler keeps quiet hours otherwise)."""
    async with grpc.aio.insecure_channel(target) as channel:
        reply = await dg.WorkerServiceStub(channel).RegisterWorker(
            d.RegisterWorkerRequest(
                worker_id=worker_id, region="ke", skills=skills, availability=["00:00-24:00"]
            ),
            timeout=10,
        )
    return str(reply.token)


async def eventually(probe: Callable[[], Awaitable[bool]], wait_s: float, what: str) -> None:
    """Waits for a state another process reaches in its own time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not await probe():
        if loop.time() > deadline:
            raise AssertionError(f"not within {wait_s:.0f} s: {what}")
        await asyncio.sleep(0.2)


async def states(dispatchers: Dispatchers, task_ids: list[str]) -> list[str]:
    client = dispatchers.redis()
    try:
        async with client.pipeline(transaction=False) as pipe:
            for task_id in task_ids:
                pipe.hget(f"{dispatchers.redis_prefix}task:{task_id}", "state")
            raw = await pipe.execute()
    finally:
        await client.aclose()
    return [(value or b"").decode() for value in raw]


async def all_published(dispatchers: Dispatchers) -> bool:
    """The relay has put every entry of the transition log on Kafka."""
    client = dispatchers.redis()
    try:
        last = await client.xrevrange(f"{dispatchers.redis_prefix}log", count=1)
        published = await client.get(f"{dispatchers.redis_prefix}log:published")
    finally:
        await client.aclose()
    if not last:
        return True
    if published is None:
        return False
    high, low = (int(x) for x in last[0][0].decode().split("-"))
    done_high, done_low = (int(x) for x in published.decode().split("-"))
    return (done_high, done_low) >= (high, low)


async def read_topic(bootstrap: str, topic: str) -> list[envelope_pb2.Envelope]:
    """Every envelope on the topic, partition by partition (so in order for each key), with
    duplicates (the same event id published again) dropped as consumers drop them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: dict[int, list[bytes]] = {p.partition: [] for p in partitions}
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            for tp, batch in (await consumer.getmany(timeout_ms=1000)).items():
                records[tp.partition] += [r.value for r in batch if r.value is not None]
    finally:
        await consumer.stop()
    seen: set[str] = set()
    envelopes = []
    for partition in sorted(records):
        for raw in records[partition]:
            envelope = envelope_pb2.Envelope.FromString(raw)
            if envelope.event_id not in seen:
                seen.add(envelope.event_id)
                envelopes.append(envelope)
    return envelopes


async def scheduled_partitions(process: ServiceProcess) -> set[int]:
    """The partitions whose pools the replica schedules, from its metrics."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(process.metrics_url)).text
    found = re.findall(r'fairtask_scheduled_partitions\{partition="(\d+)"\} 1\.0', text)
    return {int(p) for p in found}
