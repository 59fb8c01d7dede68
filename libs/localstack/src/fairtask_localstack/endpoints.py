"""Where a running stack answers, and the env file that hands it to other processes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

KAFKA_ENV = "FAIRTASK_KAFKA_BOOTSTRAP"
REDIS_ENV = "FAIRTASK_REDIS_URL"
POSTGRES_ENV = "FAIRTASK_POSTGRES_DSN"
DATABASE = "fairtask"


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str  # "127.0.0.1:PORT"
    redis_url: str  # "redis://127.0.0.1:PORT/0"
    postgres_dsn: str  # "postgresql://postgres@127.0.0.1:PORT/fairtask"

    @classmethod
    def on_loopback(cls, kafka_port: int, redis_port: int, postgres_port: int) -> Endpoints:
        return cls(
            kafka_bootstrap=f"127.0.0.1:{kafka_port}",
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            postgres_dsn=f"postgresql://postgres@127.0.0.1:{postgres_port}/{DATABASE}",
        )

    def to_env(self) -> dict[str, str]:
        return {
            KAFKA_ENV: self.kafka_bootstrap,
            REDIS_ENV: self.redis_url,
            POSTGRES_ENV: self.postgres_dsn,
        }

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Endpoints:
        """Build from FAIRTASK_* keys. Raises KeyError naming the first missing key."""
        return cls(
            kafka_bootstrap=env[KAFKA_ENV],
            redis_url=env[REDIS_ENV],
            postgres_dsn=env[POSTGRES_ENV],
        )

    def save(self, path: Path) -> None:
        """Write `KEY=value` lines, atomically, so a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(f"{key}={value}\n" for key, value in self.to_env().items()))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Endpoints:
        """Read a file written by `save`. Raises OSError if unreadable, KeyError if incomplete."""
        return cls.from_env(read_env_file(path))


def read_env_file(path: Path) -> dict[str, str]:
    """Parse `KEY=value` lines; blank lines, `#` comments and an `export ` prefix are allowed."""
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            env[key.strip()] = value.strip().strip("'\"")
    return env
