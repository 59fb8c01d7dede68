"""The fairness formulas of DESIGN, checked by example and by property."""

import math

from hypothesis import given
from hypothesis import strategies as st

from fairtask_sim.fairness import (
    Allocation,
    fairness_of,
    jain_index,
    max_min_share_ratio,
    normalized_shares,
)

work = st.floats(min_value=0.0, max_value=1e7, allow_nan=False)
eligible = st.floats(min_value=1.0, max_value=1e7, allow_nan=False)
allocations = st.dictionaries(
    st.text(min_size=1, max_size=4),
    st.builds(Allocation, work, eligible),
    min_size=1,
    max_size=12,
)


def test_worked_example() -> None:
    # a: 1 h of work in 2 h eligible, b: 3 h in 2 h. Overall 4/4 = 1, shares 0.5 and 1.5.
    result = fairness_of({"a": Allocation(3600, 7200), "b": Allocation(3 * 3600, 7200)})
    assert result.shares == {"a": 0.5, "b": 1.5}
    assert result.max_min_share_ratio == 3.0
    assert math.isclose(result.jain_index or 0, 4 / 5)


def test_undefined_without_work_or_eligible_time() -> None:
    assert fairness_of({"a": Allocation(0, 100)}).jain_index is None
    assert fairness_of({"a": Allocation(50, 0)}).shares == {}
    assert max_min_share_ratio({}) is None


def test_no_work_for_someone_eligible_is_unbounded() -> None:
    result = fairness_of({"a": Allocation(0, 100), "b": Allocation(100, 100)})
    assert result.max_min_share_ratio == math.inf


@given(allocations)
def test_jain_is_in_zero_one_and_max_min_at_least_one(data: dict[str, Allocation]) -> None:
    result = fairness_of(data)
    if result.jain_index is not None:
        assert 0 < result.jain_index <= 1
    if result.max_min_share_ratio is not None:
        assert result.max_min_share_ratio >= 1


@given(allocations, st.floats(min_value=1e-3, max_value=1e3))
def test_invariant_to_scaling_work(data: dict[str, Allocation], factor: float) -> None:
    scaled = {k: Allocation(a.work_s * factor, a.eligible_s) for k, a in data.items()}
    before, after = fairness_of(data), fairness_of(scaled)
    if before.jain_index is None:
        assert after.jain_index is None
    else:
        assert after.jain_index is not None
        assert math.isclose(before.jain_index, after.jain_index, rel_tol=1e-9)


@given(st.lists(eligible, min_size=1, max_size=12), st.floats(min_value=1e-3, max_value=10))
def test_jain_is_one_when_all_shares_are_equal(eligibles: list[float], rate: float) -> None:
    data = {str(i): Allocation(e * rate, e) for i, e in enumerate(eligibles)}
    result = fairness_of(data)
    assert result.jain_index is not None
    assert math.isclose(result.jain_index, 1.0)
    assert result.max_min_share_ratio is not None
    assert math.isclose(result.max_min_share_ratio, 1.0)


@given(
    st.lists(st.floats(min_value=0.01, max_value=100), min_size=2, max_size=10),
    st.lists(st.floats(min_value=1, max_value=1e4), min_size=10, max_size=10),
)
def test_jain_below_one_when_shares_differ(shares: list[float], weights: list[float]) -> None:
    named = {str(i): s for i, s in enumerate(shares)}
    weighted = {str(i): w for i, w in enumerate(weights)}
    jain = jain_index(named, weighted)
    assert jain is not None
    if max(shares) / min(shares) > 1 + 1e-6:
        assert jain < 1
    else:
        assert math.isclose(jain, 1.0)


@given(allocations)
def test_weighted_mean_share_is_one(data: dict[str, Allocation]) -> None:
    shares = normalized_shares(data)
    if shares:
        total = sum(data[k].eligible_s for k in shares)
        mean = sum(data[k].eligible_s * s for k, s in shares.items()) / total
        assert math.isclose(mean, 1.0, rel_tol=1e-9)
