"""The fairness figures of DESIGN "Scenario files", pure and total.

For entities r (regions of a pool, or workers) with work W_r and eligible time E_r:
    share_r = (W_r / E_r) / (sum W / sum E)
    jain    = (sum E_r * share_r)^2 / (sum E_r * sum E_r * share_r^2)
    max/min = max share_r / min share_r
An entity with no eligible time has no share (it could not have been given work). With no work
at all, or no eligible time, nobody has a share and the figures are None: "fair" is undefined,
not perfect. max/min is math.inf when some entity had eligible time and no work.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Allocation:
    work_s: float
    eligible_s: float


@dataclass(frozen=True)
class Fairness:
    shares: dict[str, float]
    jain_index: float | None
    max_min_share_ratio: float | None


def normalized_shares(allocations: Mapping[str, Allocation]) -> dict[str, float]:
    eligible = {k: a for k, a in allocations.items() if a.eligible_s > 0}
    total_work = sum(a.work_s for a in eligible.values())
    total_eligible = sum(a.eligible_s for a in eligible.values())
    if total_work <= 0 or total_eligible <= 0:
        return {}
    # (W_r / E_r) / (W / E) as one quotient of products: no intermediate underflows to 0.
    return {
        k: (a.work_s * total_eligible) / (a.eligible_s * total_work) for k, a in eligible.items()
    }


def jain_index(shares: Mapping[str, float], weights: Mapping[str, float]) -> float | None:
    """Weighted Jain index in (0, 1]; exactly 1 when all weighted shares are equal."""
    pairs = [(weights.get(k, 0.0), s) for k, s in shares.items()]
    pairs = [(w, s) for w, s in pairs if w > 0]
    total_weight = math.fsum(w for w, _ in pairs)
    weighted = math.fsum(w * s for w, s in pairs)
    squares = math.fsum(w * s * s for w, s in pairs)
    if total_weight <= 0 or squares <= 0:
        return None
    # Rounding can lift an all-equal population a hair above 1.
    return min(weighted * weighted / (total_weight * squares), 1.0)


def max_min_share_ratio(shares: Mapping[str, float]) -> float | None:
    if not shares:
        return None
    low, high = min(shares.values()), max(shares.values())
    return math.inf if low <= 0 else high / low


def fairness_of(allocations: Mapping[str, Allocation]) -> Fairness:
    shares = normalized_shares(allocations)
    weights = {k: a.eligible_s for k, a in allocations.items()}
    return Fairness(shares, jain_index(shares, weights), max_min_share_ratio(shares))
