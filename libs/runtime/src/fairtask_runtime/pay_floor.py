"""The pay floor, shared by the services that enforce it.

The dispatcher refuses a task type whose price cannot pay the floor at its estimated effort,
and payroll tops payments up to it; both need the same arithmetic without importing each
other. Pure integers: micro-dollars and seconds, rounded up so the floor is never missed by
a rounding error.
"""

SECONDS_PER_HOUR = 3600
# $12 an hour, in micro-dollars.
DEFAULT_FLOOR_MICROS_PER_HOUR = 12_000_000


def minimum_price_micros(effort_seconds: int, floor_micros_per_hour: int) -> int:
    """The least amount that pays `floor_micros_per_hour` for `effort_seconds` of work."""
    if effort_seconds < 0 or floor_micros_per_hour < 0:
        raise ValueError("effort and the floor are never negative")
    return -(-effort_seconds * floor_micros_per_hour // SECONDS_PER_HOUR)
