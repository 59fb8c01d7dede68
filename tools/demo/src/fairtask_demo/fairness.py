"""Fairness maths from the design, pure and total (no I/O, no exceptions on edge cases).

For entities r (regions, or workers) with work W_r and eligible time E_r:
    share_r = (W_r / E_r) / (sum W / sum E)
    jain    = (sum E_r * share_r)^2 / (sum E_r * sum E_r * share_r^2)
    max/min = max share_r / min share_r
An entity with no eligible time has no share (it could not have been given work), and with no
work at all nobody has a share: "fair" is undefined, so the figures are None, not 1.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Allocation:
    work_seconds: float
    eligible_seconds: float


@dataclass(frozen=True)
class Fairness:
    shares: dict[str, float]
    jain_index: float | None
    # math.inf when some entity had eligible time but got no work.
    max_min_share_ratio: float | None


def normalized_shares(allocations: Mapping[str, Allocation]) -> dict[str, float]:
    eligible = {k: a for k, a in allocations.items() if a.eligible_seconds > 0}
    total_work = sum(a.work_seconds for a in eligible.values())
    total_eligible = sum(a.eligible_seconds for a in eligible.values())
    if total_work <= 0 or total_eligible <= 0:
        return {}
    overall = total_work / total_eligible
    return {k: (a.work_seconds / a.eligible_seconds) / overall for k, a in eligible.items()}


def jain_index(shares: Mapping[str, float], weights: Mapping[str, float]) -> float | None:
    """Weighted Jain index over `shares`; in (0, 1], 1 when all shares are equal."""
    pairs = [(weights.get(k, 0.0), s) for k, s in shares.items()]
    pairs = [(w, s) for w, s in pairs if w > 0]
    total_weight = sum(w for w, _ in pairs)
    weighted = sum(w * s for w, s in pairs)
    squares = sum(w * s * s for w, s in pairs)
    if total_weight <= 0 or squares <= 0:
        return None
    # Rounding can push an all-equal population a hair above 1.
    return min((weighted * weighted) / (total_weight * squares), 1.0)


def max_min_share_ratio(shares: Mapping[str, float]) -> float | None:
    if not shares:
        return None
    low, high = min(shares.values()), max(shares.values())
    if low <= 0:
        return math.inf
    return high / low


def fairness_of(allocations: Mapping[str, Allocation]) -> Fairness:
    shares = normalized_shares(allocations)
    weights = {k: a.eligible_seconds for k, a in allocations.items()}
    return Fairness(shares, jain_index(shares, weights), max_min_share_ratio(shares))
