"""Payroll's settings, on top of the shared FAIRTASK_* ones."""

from pathlib import Path

from pydantic import Field

from fairtask_runtime.settings import ServiceSettings


class PayrollSettings(ServiceSettings):
    # FAIRTASK_POSTGRES_DSN
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/fairtask"
    # Deadline of every query, and of taking a connection from the pool.
    postgres_timeout_s: float = Field(default=5.0, gt=0)
    postgres_pool_max_size: int = Field(default=10, ge=1)
    # Where the NNNN_name.sql files are; by default services/payroll/migrations.
    migrations_dir: Path | None = None
    # Payroll keeps nothing in Redis: this is where it reads platform and operator API keys
    # unless FAIRTASK_PLATFORM_KEYS_REDIS_URL names the shared key store.
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Workers are paid out what they are owed once per period (a day), from the first check
    # in it; less than the minimum waits for the next period. Checked this often.
    payout_period_s: float = Field(default=24 * 3600.0, gt=0)
    payout_minimum_micros: int = Field(default=1_000_000, ge=1)
    payout_check_s: float = Field(default=60.0, gt=0)
    # Escrow holds whose appeal windows closed are released, and those never confirmed by
    # their task's publication lapse, this often (FAIRTASK_HOLD_SWEEP_S).
    hold_sweep_s: float = Field(default=60.0, gt=0)
    # A hold lapses when its task is not seen published within this long (a submission that
    # failed after the hold and was never retried); FAIRTASK_CONFIRM_HOLDS_WITHIN_S.
    confirm_holds_within_s: float = Field(default=3600.0, gt=0)
