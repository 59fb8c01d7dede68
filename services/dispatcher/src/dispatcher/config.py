"""Dispatcher settings (FAIRTASK_* environment variables)."""

import hashlib
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from fairtask_runtime.rate_limits import parse_limit
from fairtask_runtime.settings import ServiceSettings


class DispatcherSettings(ServiceSettings):
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "dispatch:"
    # Connections to Redis at most; a call waits up to the timeout for one to be free.
    redis_max_connections: int = 64
    redis_pool_timeout_s: float = 10.0
    offer_ttl_s: float = 120.0
    grace_s: float = 900.0
    # A task done (submitted, cancelled, expired) and its lease stay in Redis this long, without
    # the task's content, then go: far longer than a consumer takes to commit what it handled,
    # so a task Kafka delivers again after a crash is still refused; GetTask answers meanwhile.
    # About 0.9 KB a task: ~3.5 GB an hour at the design load (docs/operations.md, "Redis").
    finished_task_kept_s: float = Field(default=3600.0, gt=0)
    # A task several workers answer, answered and not yet settled by scoring, keeps its content
    # (further answers' copies are built from it), and it and its copies stay until settled or
    # this long: longer than scoring keeps asking again for an answer it misses (1,000 times, 10
    # minutes apart: about 7 days), so no request of its, late or repeated, finds its copy gone
    # and queues it again.
    unsettled_task_kept_s: float = Field(default=8 * 24 * 3600.0, gt=0)
    heartbeat_interval_s: int = 10
    hello_timeout_s: float = 30.0
    # A replica silent for this long counts as dead: the others end its workers' connections.
    replica_ttl_s: float = 10.0
    # The consumer group gives a silent replica's pools to the others after this long.
    consumer_session_timeout_s: float = 10.0
    worker_token_ttl_s: float = 7 * 24 * 3600.0
    # WebSocket frames and POST bodies above this are refused. Answers travel base64-encoded,
    # so this leaves room for the largest answer accepted (256 KiB) and the JSON around it.
    worker_frame_max_bytes: int = 384 * 1024
    # A comment on an idle event stream this often, so proxies do not time it out.
    sse_keepalive_s: float = 15.0
    # Backpressure: at most this many tasks of one platform wait (accepted, not yet offered);
    # SubmitTasks beyond it answers RESOURCE_EXHAUSTED, asking to retry after this long.
    platform_backlog_max: int = Field(default=100_000, ge=1)
    backlog_retry_after_s: float = Field(default=5.0, gt=0)
    # The most messages (accept, decline, heartbeat, submit) one worker may send, over every
    # transport; past it a message is refused with RESOURCE_EXHAUSTED (HTTP 429) and not done.
    # A person needs a few a minute; 20 a second leaves room for scripts and retries.
    worker_rate_limit: str = "20/second"
    # FAIRTASK_ROLE. "gateway": serves platforms and worker connections and pushes the offers
    # schedulers make (it follows the transition log), but stays out of the tasks.submitted
    # consumer group, so it schedules no pool: gateways scale with connections, schedulers with
    # pools. "scheduler" and "all" (the default) join the group and schedule.
    role: Literal["all", "gateway", "scheduler"] = "all"

    # Gold (control) tasks are held back and released so they make up at most this share of
    # each pool's dispatched work; held gold is released anyway once the pool has had no
    # other work for gold_idle_release_s. 0 releases gold as it comes.
    gold_mix_rate: float = Field(default=0.02, ge=0, lt=1)
    gold_idle_release_s: float = Field(default=60.0, gt=0)
    # How often each replica re-reads the pool exclusions of the workers it knows, to apply
    # quality changes another replica consumed.
    exclusions_reload_s: float = Field(default=15.0, gt=0)
    # Payroll's gRPC address and an operator API key for it: each new task's price is held
    # from its platform's escrow before the task is accepted. Unset: no escrow (development
    # only; a warning says so at start-up).
    payroll_target: str | None = None
    payroll_api_key: SecretStr | None = None
    # Scoring's gRPC address: with payroll's, the worker page shows the worker's statement
    # and reviews and takes appeals (the worker's own token is passed on).
    scoring_target: str | None = None
    # FAIRTASK_POSTGRES_DSN: where every client task id a platform has used is kept, for ever
    # (`tables_schema`.client_tasks). Redis keeps only what is in play.
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/fairtask"
    # Deadline of every query, and of taking a connection from the pool.
    postgres_timeout_s: float = Field(default=5.0, gt=0)
    # A few suffice: each SubmitTasks call makes two short queries.
    postgres_pool_max_size: int = Field(default=4, ge=1)
    # Where the NNNN_name.sql files are; by default services/dispatcher/migrations.
    migrations_dir: Path | None = None
    # The schema of the dispatcher's tables. Unset: named after redis_prefix ("dispatch" for
    # "dispatch:", see schema_named_after), so deployments and test runs that keep their state
    # apart in Redis keep it apart here too.
    postgres_schema: str = ""
    # Set while replicas of a version until 2026-12-07 (client task ids in Redis only) run
    # beside this one, in the rolling upgrade from it: each id is then bound in Redis too
    # (docs/operations.md, "Upgrading").
    client_ids_also_in_redis: bool = False

    @model_validator(mode="after")
    def _schema_of_its_own(self) -> "DispatcherSettings":
        schema = self.tables_schema
        if not _SCHEMA.fullmatch(schema) or schema in _RESERVED:
            raise ValueError(
                f"the schema {schema!r} (FAIRTASK_POSTGRES_SCHEMA) must be lowercase letters, "
                "digits and _, at most 63, not public, pg_* or information_schema"
            )
        return self

    @property
    def tables_schema(self) -> str:
        return self.postgres_schema or schema_named_after(self.redis_prefix)

    @model_validator(mode="after")
    def _whole_escrow(self) -> "DispatcherSettings":
        if (self.payroll_target is None) != (self.payroll_api_key is None):
            raise ValueError("payroll_target and payroll_api_key go together: set both or neither")
        return self

    @field_validator("worker_rate_limit")
    @classmethod
    def _readable_worker_limit(cls, value: str) -> str:
        parse_limit(value)
        return value


_SCHEMA = re.compile(r"(?!pg_)[a-z_][a-z0-9_]{0,62}")
_RESERVED = {"public", "information_schema"}
_PLAIN_PREFIX = re.compile(r"([a-z][a-z0-9_]*):")


def schema_named_after(redis_prefix: str) -> str:
    """The name before a prefix's one colon, when that is a name a schema may have; else a
    readable name told apart from every other prefix by a hash of it."""
    plain = _PLAIN_PREFIX.fullmatch(redis_prefix)
    if plain and _SCHEMA.fullmatch(plain[1]) and plain[1] not in _RESERVED:
        return plain[1]
    readable = re.sub(r"[^a-z0-9_]+", "_", redis_prefix.lower()).strip("_")[:40]
    digest = hashlib.sha256(redis_prefix.encode()).hexdigest()[:12]
    return f"d_{readable}_{digest}" if readable else f"d_{digest}"
