"""Latency summaries in milliseconds."""

from collections.abc import Sequence


def percentile(ordered: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of already sorted samples."""
    if not ordered:
        raise ValueError("no samples")
    rank = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[rank]


def latency_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99, max and the sample count of delays given in seconds. Raises ValueError
    when there are none: a run that delivered nothing has nothing to report."""
    ordered = sorted(samples_s)
    return {
        "p50": round(percentile(ordered, 0.50) * 1000, 3),
        "p90": round(percentile(ordered, 0.90) * 1000, 3),
        "p99": round(percentile(ordered, 0.99) * 1000, 3),
        "max": round(ordered[-1] * 1000, 3),
        "samples": len(ordered),
    }
