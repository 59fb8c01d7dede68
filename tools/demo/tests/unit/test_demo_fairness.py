import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairtask_sim.fairness import (
    Allocation,
    fairness_of,
    jain_index,
    max_min_share_ratio,
    normalized_shares,
)

names = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
positive = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)
shares_and_weights = st.dictionaries(names, st.tuples(positive, positive), min_size=1, max_size=8)


@given(st.dictionaries(names, positive, min_size=1, max_size=8), positive)
def test_jain_is_one_when_every_share_is_equal(weights: dict[str, float], share: float) -> None:
    result = jain_index(dict.fromkeys(weights, share), weights)
    assert result == pytest.approx(1.0)


@given(shares_and_weights)
def test_jain_lies_in_zero_one(pairs: dict[str, tuple[float, float]]) -> None:
    shares = {k: s for k, (s, _) in pairs.items()}
    weights = {k: w for k, (_, w) in pairs.items()}
    result = jain_index(shares, weights)
    assert result is not None
    assert 0 < result <= 1


@given(shares_and_weights, positive, positive)
def test_jain_is_scale_invariant(
    pairs: dict[str, tuple[float, float]], share_scale: float, weight_scale: float
) -> None:
    shares = {k: s for k, (s, _) in pairs.items()}
    weights = {k: w for k, (_, w) in pairs.items()}
    scaled = jain_index(
        {k: s * share_scale for k, s in shares.items()},
        {k: w * weight_scale for k, w in weights.items()},
    )
    assert scaled == pytest.approx(jain_index(shares, weights), rel=1e-9)


@given(st.dictionaries(names, st.tuples(positive, positive), min_size=1, max_size=8))
def test_normalized_shares_average_to_one_weighted_by_eligible_time(
    raw: dict[str, tuple[float, float]],
) -> None:
    allocations = {k: Allocation(w, e) for k, (w, e) in raw.items()}
    shares = normalized_shares(allocations)
    total_eligible = sum(a.eligible_s for a in allocations.values())
    weighted = sum(shares[k] * a.eligible_s for k, a in allocations.items())
    assert weighted / total_eligible == pytest.approx(1.0)


def test_work_in_proportion_to_eligible_time_is_perfectly_fair() -> None:
    result = fairness_of(
        {
            "us": Allocation(work_s=900, eligible_s=3600),
            "ph": Allocation(work_s=1800, eligible_s=7200),
        }
    )
    assert result.shares == {"us": pytest.approx(1.0), "ph": pytest.approx(1.0)}
    assert result.jain_index == pytest.approx(1.0)
    assert result.max_min_share_ratio == pytest.approx(1.0)


def test_a_region_given_twice_its_share_is_visible_in_both_figures() -> None:
    result = fairness_of(
        {"us": Allocation(2000, 1000), "ph": Allocation(1000, 1000)},
    )
    # Overall rate 1.5 s of work per eligible second: us 2/1.5, ph 1/1.5.
    assert result.shares["us"] == pytest.approx(4 / 3)
    assert result.shares["ph"] == pytest.approx(2 / 3)
    assert result.max_min_share_ratio == pytest.approx(2.0)
    # (sum w s)^2 / (sum w * sum w s^2) = 2000^2 / (2000 * 1000 * (16/9 + 4/9)) = 0.9
    assert result.jain_index == pytest.approx(0.9)


def test_a_starved_region_makes_the_ratio_unbounded() -> None:
    result = fairness_of({"us": Allocation(100, 10), "ke": Allocation(0, 10)})
    assert result.max_min_share_ratio == math.inf
    assert result.jain_index == pytest.approx(0.5)


def test_no_work_at_all_has_no_fairness_figures() -> None:
    result = fairness_of({"us": Allocation(0, 10), "ph": Allocation(0, 10)})
    assert result.shares == {}
    assert result.jain_index is None
    assert result.max_min_share_ratio is None


def test_entities_without_eligible_time_have_no_share() -> None:
    result = fairness_of({"us": Allocation(10, 10), "asleep": Allocation(0, 0)})
    assert result.shares == {"us": pytest.approx(1.0)}
    assert max_min_share_ratio(result.shares) == pytest.approx(1.0)
