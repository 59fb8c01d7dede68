"""A small migration runner: versioned SQL files applied once, in order, by one replica.

Each service that keeps data in PostgreSQL ships its own directory of `NNNN_name.sql` files.
Each file is applied in its own transaction together with its row in `schema_migrations`, so a
failure leaves the schema at the previous version. A session advisory lock serialises replicas
starting together: the second waits, then sees the versions the first applied and skips them.
`schema_migrations` is created in the first schema of the connection's search path, so a
service keeping its tables in a schema of its own keeps its history there too (and takes a
lock key of its own, `lock_key_for`). An applied file whose text changed is an error, not a
silent skip: the database would no longer match the repository.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Any constant works as long as nothing else in the database uses it for another lock.
MIGRATION_LOCK_KEY = 0x0066_6169_7270_6179  # "fairpay": payroll's, from before the others
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The migration files or the recorded history are inconsistent; a human must look."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    """Every migration in `directory`, by version. Raises MigrationError on a badly named
    .sql file or a repeated version."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"version {version} appears twice")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    if not found:
        raise MigrationError(f"no migrations in {directory}")
    return [found[v] for v in sorted(found)]


def lock_key_for(name: str) -> int:
    """An advisory lock key of its own for the migrations of `name` (a schema)."""
    digest = hashlib.sha256(f"fairtask migrations of {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def migrate(
    connection: "asyncpg.Connection[asyncpg.Record]",
    migrations: list[Migration],
    timeout_s: float,
    lock_key: int = MIGRATION_LOCK_KEY,
) -> list[int]:
    """Applies the migrations not yet recorded; returns the versions applied now.

    Blocks while another replica holds the migration lock, for at most `timeout_s`, and
    raises TimeoutError after that.
    """
    # A session lock, released by unlock below or by the connection closing if we die.
    await connection.execute("SELECT pg_advisory_lock($1)", lock_key, timeout=timeout_s)
    try:
        await connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            timeout=timeout_s,
        )
        rows = await connection.fetch(
            "SELECT version, checksum FROM schema_migrations", timeout=timeout_s
        )
        recorded = {row["version"]: row["checksum"] for row in rows}
        applied: list[int] = []
        for migration in migrations:
            if migration.version in recorded:
                if recorded[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version}_{migration.name} changed after it was"
                        " applied; add a new migration instead"
                    )
                continue
            async with connection.transaction():
                await connection.execute(migration.sql, timeout=timeout_s)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                    timeout=timeout_s,
                )
            log.info("migration applied", version=migration.version, name=migration.name)
            applied.append(migration.version)
        return applied
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", lock_key, timeout=timeout_s)
