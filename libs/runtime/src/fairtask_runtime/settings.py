"""Settings every service shares, read from FAIRTASK_* environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fairtask_runtime.pay_floor import DEFAULT_FLOOR_MICROS_PER_HOUR
from fairtask_runtime.rate_limits import parse_limit
from fairtask_runtime.revoked_tokens import DEFAULT_PREFIX as REVOKED_TOKENS_PREFIX

DEFAULT_OPERATOR_PLATFORM_ID = "operators"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FAIRTASK_", extra="ignore", frozen=True)

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Prepended to every topic name, so tests and parallel stacks can share one broker.
    topic_prefix: str = ""
    host: str = "127.0.0.1"
    grpc_port: int = 0
    http_port: int = 0
    log_level: str = "INFO"
    log_json: bool = True
    # FAIRTASK_EVENT_LOOP: the services' asyncio event loop. uvloop (libuv) spends less CPU per
    # callback and socket write than the standard loop, which a busy dispatcher feels; "asyncio"
    # is the standard library's, for debugging or should uvloop misbehave.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # FAIRTASK_GC_THRESHOLDS, as JSON ("[5000, 10, 10]"): Python's collector thresholds, set
    # once the service has started (see fairtask_runtime.service.settle_heap). Python's own
    # (700, 10, 10) promote an offer's objects, alive for a few hundred milliseconds, into the
    # oldest generation, whose collections then stop the loop for 100-200 ms every few seconds.
    gc_thresholds: tuple[int, int, int] = (5_000, 10, 10)
    # How long in-flight calls get to finish on SIGTERM.
    shutdown_grace_s: float = 10.0
    # Offsets are committed at most this often, and always on revoke and shutdown.
    commit_interval_s: float = 1.0
    # The consumer halts when more than this share of recent messages went to the DLQ.
    dlq_max_ratio: float = 0.5
    # Platform API keys live in one Redis every platform-facing service reads (unset: the
    # service's own Redis, `redis_url`), under this prefix. A verified key is trusted for
    # `platform_key_cache_s` seconds: revoking a key takes at most that long to bite.
    platform_keys_redis_url: str | None = None
    platform_keys_prefix: str = "platform-keys:"
    platform_key_cache_s: float = 2.0
    # Keys issued to this platform id are operators' keys: they read any worker's statement
    # and the ledger's totals, which no platform may.
    operator_platform_id: str = DEFAULT_OPERATOR_PLATFORM_ID
    # HMAC key of worker tokens (FAIRTASK_WORKER_TOKEN_SECRET, at least 32 characters), shared
    # by every replica of every service a worker calls. Unset, each process makes up its own:
    # for development only.
    worker_token_secret: SecretStr | None = Field(default=None, min_length=32)
    # Revoked worker tokens, in the same store as the platform keys, under this prefix.
    revoked_tokens_prefix: str = REVOKED_TOKENS_PREFIX
    # The most calls one platform may make to this process; past it, RESOURCE_EXHAUSTED with
    # the time to wait, so a platform flooding the API cannot starve the others.
    platform_rate_limit: str = "200/second"
    # TLS for the gRPC port (PEM files): a certificate and its key, and, to require client
    # certificates signed by it (mTLS between services), a client CA. Unset: plaintext.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # FAIRTASK_PAY_FLOOR_MICROS_PER_HOUR: the least any paid unit of work earns per hour. One
    # setting for every service: the dispatcher refuses task types priced below it, payroll
    # tops payments up to it.
    pay_floor_micros_per_hour: int = Field(default=DEFAULT_FLOOR_MICROS_PER_HOUR, gt=0)

    @field_validator("platform_rate_limit")
    @classmethod
    def _readable_limit(cls, value: str) -> str:
        parse_limit(value)  # a ValueError names the setting
        return value

    @model_validator(mode="after")
    def _whole_tls(self) -> "ServiceSettings":
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("tls_client_ca_file needs tls_cert_file and tls_key_file")
        return self
