"""Dispatcher settings (FAIRTASK_* environment variables)."""

from fairtask_runtime.settings import ServiceSettings


class DispatcherSettings(ServiceSettings):
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "dispatch:"
    offer_ttl_s: float = 120.0
    grace_s: float = 900.0
    heartbeat_interval_s: int = 10
    hello_timeout_s: float = 30.0
