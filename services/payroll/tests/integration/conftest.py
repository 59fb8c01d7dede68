"""A fresh PostgreSQL database per test, on the server the local stack started."""

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ADMIN_TIMEOUT_S = 30.0


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
async def payroll_dsn(stack_endpoints: Any) -> AsyncIterator[str]:
    """The DSN of an empty database that is dropped after the test, whoever is connected."""
    server_dsn: str = stack_endpoints.postgres_dsn
    name = f"payroll_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(server_dsn, timeout=ADMIN_TIMEOUT_S)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"', timeout=ADMIN_TIMEOUT_S)
    finally:
        await admin.close()
    yield with_database(server_dsn, name)
    admin = await asyncpg.connect(server_dsn, timeout=ADMIN_TIMEOUT_S)
    try:
        await admin.execute(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', timeout=ADMIN_TIMEOUT_S
        )
    finally:
        await admin.close()
