"""The local stack against real servers: one session stack from the fixture, one of our own."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from fairtask_localstack.endpoints import Endpoints
from fairtask_localstack.kafka_server import find_project_root
from fairtask_localstack.ports import port_open
from fairtask_localstack.process import pid_alive
from fairtask_localstack.stack import Stack, endpoint_ports, throwaway_dir
from fairtask_localstack.topics import TOPICS

pytestmark = pytest.mark.integration


async def test_kafka_round_trip_on_prefixed_topic(
    stack_endpoints: Endpoints, kafka_topics: str
) -> None:
    topic = f"{kafka_topics}tasks.submitted"
    producer = AIOKafkaProducer(
        bootstrap_servers=stack_endpoints.kafka_bootstrap, enable_idempotence=True
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"hello", key=b"pool-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack_endpoints.kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        # Bounded: a broken group join must fail the test, not hang it.
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (message.value, message.key, message.partition) == (b"hello", b"pool-1", sent.partition)


async def test_topics_exist_with_their_partition_counts(
    stack_endpoints: Endpoints, kafka_topics: str
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack_endpoints.kafka_bootstrap)
    await admin.start()
    try:
        names = [kafka_topics + name for name in TOPICS] + list(TOPICS)
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    counts = {t["topic"]: len(t["partitions"]) for t in described}
    assert counts == {name: TOPICS[name.removeprefix(kafka_topics)] for name in names}
    assert TOPICS["tasks.submitted"] == 12
    assert TOPICS["tasks.submitted.dlq"] == 3


async def test_redis_answers_ping(stack_endpoints: Endpoints) -> None:
    client = redis.Redis.from_url(stack_endpoints.redis_url)
    try:
        assert await client.ping()
    finally:
        await client.aclose()


async def test_postgres_answers_select_one(stack_endpoints: Endpoints) -> None:
    conn = await asyncpg.connect(stack_endpoints.postgres_dsn, timeout=10)
    try:
        assert await conn.fetchval("SELECT 1", timeout=10) == 1
    finally:
        await conn.close(timeout=5)


def test_endpoints_env_file_round_trip(tmp_path: Path) -> None:
    endpoints = Endpoints.on_loopback(9092, 6379, 5432)
    endpoints.save(tmp_path / "env")
    assert Endpoints.load(tmp_path / "env") == endpoints
    assert endpoints.to_env()["FAIRTASK_POSTGRES_DSN"] == (
        "postgresql://postgres@127.0.0.1:5432/fairtask"
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fairtask_localstack", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_start_is_idempotent_and_stop_leaves_nothing_running() -> None:
    stack = Stack(throwaway_dir(), find_project_root(Path(__file__)), fast=True, throwaway=True)
    data_dir = stack.data_dir
    try:
        endpoints = stack.start()
        pid_files = sorted((data_dir / "pids").glob("*.pid"))
        pids = [tuple(p.read_text().split()) for p in pid_files]
        assert [p.stem for p in pid_files] == ["kafka", "postgres", "redis"]
        assert all(pid_alive(int(pid), started) for pid, started in pids)

        assert stack.start() == endpoints  # reused, not restarted
        assert stack.startup_s == {}
        status = _cli("status", "--dir", str(data_dir))
        assert status.returncode == 0, status.stdout + status.stderr
    finally:
        stack.stop()

    assert not any(pid_alive(int(pid), started) for pid, started in pids)
    assert not any(port_open(port) for port in endpoint_ports(endpoints))
    assert not data_dir.exists()
    assert _cli("status", "--dir", str(data_dir)).returncode == 1
    stack.stop()  # idempotent


def test_loading_the_plugin_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "fairtask_localstack.pytest_plugin",
         "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'bt'}", "test_plain.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert not list((tmp_path / "bt").glob("localstack*"))
