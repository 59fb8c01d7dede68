"""Scoring settings (FAIRTASK_* environment variables)."""

from pydantic import Field

from fairtask_runtime.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Every key scoring writes starts with this; tests use a fresh one each.
    redis_prefix: str = "scoring:"
    # Longest single wait of a WatchResults stream for new results before it polls again.
    # Kept well under redis-py's 5 s socket timeout, which would otherwise cut a blocking XREAD.
    watch_block_s: float = 2.0
    watch_batch: int = 100
    # Work not reviewed this long after it was scored is approved (default 72 h).
    review_window_s: float = Field(default=72 * 3600, gt=0)
    # A worker may appeal a rejection this long after it (default 7 days).
    appeal_window_s: float = Field(default=7 * 24 * 3600, gt=0)
    # An appeal the platform has not answered this long after it was filed is granted.
    appeal_answer_window_s: float = Field(default=72 * 3600, gt=0)
    # How often each replica lets the deadlines decide and re-announces failed steps.
    review_sweep_interval_s: float = Field(default=5.0, gt=0)
    # A worker is kept out of a task type's pool when their accuracy on its gold tasks is
    # confidently below this (see EligibilityRule); with fewer gold answers than
    # min_gold_answers the missing ones count as passed, so newcomers always get work.
    min_quality: float = Field(default=0.6, gt=0, lt=1)
    min_gold_answers: int = Field(default=5, ge=1)
    # How often an aggregate of several answers that waits for one of them to be released
    # is checked by the sweep; a release normally releases the aggregate at once.
    aggregate_release_recheck_s: float = Field(default=30.0, gt=0)
