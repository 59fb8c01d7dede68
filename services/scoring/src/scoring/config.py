"""Scoring settings (FAIRTASK_* environment variables)."""

from fairtask_runtime.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Every key scoring writes starts with this; tests use a fresh one each.
    redis_prefix: str = "scoring:"
    # Longest single wait of a WatchResults stream for new results before it polls again.
    # Kept well under redis-py's 5 s socket timeout, which would otherwise cut a blocking XREAD.
    watch_block_s: float = 2.0
    watch_batch: int = 100
