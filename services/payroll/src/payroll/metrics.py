"""Every series payroll exports. Labels are bounded: entry kinds and regions."""

from prometheus_client import Counter

POSTINGS = Counter(
    "fairtask_payroll_postings_total",
    "Postings written to the ledger (replays excluded), by entry kind.",
    ["kind"],
)
PAID_MICROS = Counter(
    "fairtask_payroll_paid_micros_total",
    "Micro-dollars credited to workers, by worker region.",
    ["region"],
)
PAID_SECONDS = Counter(
    "fairtask_payroll_paid_seconds_total",
    "Seconds of work paid for, by worker region.",
    ["region"],
)
PAYMENTS_BELOW_FLOOR = Counter(
    "fairtask_payments_below_floor_total",
    "Task payments whose price for the time worked is below the hourly floor; must stay 0.",
)

PAYOUTS = Counter("fairtask_payroll_payouts_total", "Payouts posted, one per worker per batch.")
PAID_OUT_MICROS = Counter(
    "fairtask_payroll_paid_out_micros_total", "Micro-dollars sent to workers in payouts."
)
HOLDS_LAPSED = Counter(
    "fairtask_payroll_holds_lapsed_total",
    "Escrow holds that lapsed because their task was never published (a submission that "
    "failed and was not retried).",
)


def record_posting(
    kind: str, region: str, amount_micros: int, paid_seconds: int, below_floor: bool
) -> None:
    POSTINGS.labels(kind).inc()
    PAID_MICROS.labels(region).inc(amount_micros)
    PAID_SECONDS.labels(region).inc(paid_seconds)
    if below_floor:
        PAYMENTS_BELOW_FLOOR.inc()
