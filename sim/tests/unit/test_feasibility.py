"""The feasibility index agrees with the plain definition on random spans."""

from hypothesis import given
from hypothesis import strategies as st

from fairtask_sim.feasibility import FeasibilityIndex

span = st.tuples(st.integers(0, 2000), st.integers(1, 300)).map(
    lambda p: (float(p[0]), float(p[0] + p[1]))
)


def brute_force(
    spans: list[tuple[float, float]], arrived: float, deadline: float, effort: float
) -> bool:
    return any(min(end, deadline) - max(start, arrived) >= effort for start, end in spans)


@given(
    st.lists(span, max_size=700),
    st.integers(0, 2200),
    st.integers(0, 600),
    st.integers(1, 200),
)
def test_matches_the_definition(
    spans: list[tuple[float, float]], arrived: int, life: int, effort: int
) -> None:
    index = FeasibilityIndex(spans)
    expected = brute_force(spans, arrived, arrived + life, effort)
    assert index.feasible(arrived, arrived + life, effort) == expected


def test_a_task_needs_one_unbroken_stretch() -> None:
    index = FeasibilityIndex([(0.0, 50.0), (60.0, 100.0)])
    assert not index.feasible(0.0, 100.0, 60.0)
    assert index.feasible(0.0, 100.0, 50.0)
    assert not index.feasible(70.0, 200.0, 31.0)
