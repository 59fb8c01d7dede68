"""pytest fixtures for integration tests against the real local servers.

Loaded from the root config with `-p fairtask_localstack.pytest_plugin`. Loading it starts
nothing: the servers start the first time a test asks for `stack_endpoints`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError

from fairtask_localstack.endpoints import Endpoints
from fairtask_localstack.kafka_server import find_project_root
from fairtask_localstack.process import run_sync
from fairtask_localstack.stack import Stack, endpoints_answer, throwaway_dir
from fairtask_localstack.topics import create_topics, delete_topics, topic_names

STACK_ENV = "FAIRTASK_STACK_ENV"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: needs the real Kafka, Redis and PostgreSQL servers"
    )


def _running_stack(env_file: str) -> Endpoints | None:
    try:
        endpoints = Endpoints.load(Path(env_file))
    except (OSError, KeyError):
        endpoints = None
    if endpoints is not None and endpoints_answer(endpoints):
        return endpoints
    warnings.warn(f"{STACK_ENV}={env_file} is not a running stack; starting one", stacklevel=1)
    return None


@pytest.fixture(scope="session")
def stack_endpoints(request: pytest.FixtureRequest) -> Iterator[Endpoints]:
    """Kafka, Redis and PostgreSQL for this session, with every topic of TOPICS created.

    Reuses the stack whose env file $FAIRTASK_STACK_ENV names (`make up` writes .stack/env) if
    it answers; otherwise starts a throwaway one (no fsync) in a fresh /tmp dir, and stops and
    deletes it at the end of the session, or, through a watchdog, when this process is killed.

    Not under tmp_path_factory: pytest makes /tmp/pytest-of-USER private (0700) again in every
    session, and the `postgres` user must traverse to its data dir while the stack runs.
    """
    env_file = os.environ.get(STACK_ENV)
    existing = _running_stack(env_file) if env_file else None
    if existing is not None:
        run_sync(create_topics(existing.kafka_bootstrap))
        yield existing
        return
    root = find_project_root(request.config.rootpath)
    stack = Stack(throwaway_dir(), root, fast=True, throwaway=True)
    try:
        yield stack.start(owner_pid=os.getpid())
    finally:
        stack.stop()


@pytest.fixture
def kafka_topics(stack_endpoints: Endpoints) -> Iterator[str]:
    """A fresh prefix like `t1a2b3c4.` under which every topic of TOPICS exists for this test.

    Returns the prefix (the FAIRTASK_TOPIC_PREFIX a service under test should use). The topics
    are deleted afterwards so the single broker does not accumulate partitions.
    """
    prefix = f"t{uuid.uuid4().hex[:8]}."
    run_sync(create_topics(stack_endpoints.kafka_bootstrap, prefix))
    yield prefix
    with contextlib.suppress(KafkaError, OSError):
        run_sync(delete_topics(stack_endpoints.kafka_bootstrap, topic_names(prefix)))
