"""Dynamic overlap: stop early on agreement, ask more on disagreement, never past the maximum."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.domain.aggregation import Label
from scoring.domain.overlap import (
    MAX_QUALITY,
    OverlapDecision,
    OverlapOutcome,
    OverlapPolicy,
    answer_posterior,
    decide_overlap,
    needs_more_answers,
)


def _answers(*answers: str) -> list[Label]:
    return [Label("t", f"w{i}", answer) for i, answer in enumerate(answers)]


def _quality(answers: list[Label], quality: float) -> dict[str, float]:
    return {label.worker_id: quality for label in answers}


# Answers arriving one by one, each from a worker of its own quality.
_arrivals = st.lists(
    st.tuples(st.sampled_from(["no", "yes", "maybe"]), st.floats(0.0, 1.0)), max_size=12
).map(
    lambda rows: (
        [Label("t", f"w{i}", answer) for i, (answer, _) in enumerate(rows)],
        {f"w{i}": quality for i, (_, quality) in enumerate(rows)},
    )
)


@st.composite
def _policies(draw: st.DrawFn, target: float | None = None) -> OverlapPolicy:
    min_answers = draw(st.integers(1, 5))
    return OverlapPolicy(
        min_answers=min_answers,
        max_answers=draw(st.integers(min_answers, 8)),
        confidence_target=target if target is not None else draw(st.floats(0.5, 0.999)),
        answer_classes=draw(st.integers(2, 5)),
    )


def _answers_used(policy: OverlapPolicy, answers: list[Label], quality: dict[str, float]) -> int:
    """How many of `answers` the policy takes before it stops asking."""
    for count in range(len(answers) + 1):
        if not needs_more_answers(policy, answers[:count], quality):
            return count
    return len(answers)


@pytest.mark.parametrize(
    ("min_answers", "max_answers", "target"),
    [(0, 3, 0.9), (3, 2, 0.9), (1, 3, 0.49), (1, 3, 1.0), (1, 3, math.nan)],
)
def test_a_policy_is_validated(min_answers: int, max_answers: int, target: float) -> None:
    with pytest.raises(ValueError, match=r"min_answers|confidence_target"):
        OverlapPolicy(min_answers, max_answers, target)


def test_one_workers_posterior_is_their_quality() -> None:
    posterior = answer_posterior(_answers("cat"), {"w0": 0.7}, answer_classes=4)
    assert posterior == {"cat": pytest.approx(0.7)}


def test_two_workers_who_disagree_are_weighed_by_quality() -> None:
    posterior = answer_posterior(_answers("yes", "no"), {"w0": 0.9, "w1": 0.6}, 2)
    # 0.9 · 0.4 against 0.1 · 0.6
    assert posterior == {"yes": pytest.approx(0.36 / 0.42), "no": pytest.approx(0.06 / 0.42)}


def test_no_worker_is_certain_and_none_below_chance_counts() -> None:
    assert answer_posterior(_answers("yes"), {"w0": 1.0}, 2)["yes"] == pytest.approx(MAX_QUALITY)
    assert answer_posterior(_answers("yes"), {"w0": 0.0}, 2)["yes"] == pytest.approx(0.5)


def test_an_unknown_worker_counts_the_policys_stand_in() -> None:
    assert answer_posterior(_answers("yes"), {}, 2, unknown_worker_quality=0.8) == {
        "yes": pytest.approx(0.8)
    }


def test_no_answers_yet_asks_for_one() -> None:
    policy = OverlapPolicy(1, 3, 0.9)
    assert decide_overlap(policy, [], {}) == OverlapDecision(
        OverlapOutcome.ASK_ONE_MORE, "", 0.0, 0
    )


def test_good_workers_who_agree_stop_at_the_minimum() -> None:
    policy = OverlapPolicy(min_answers=3, max_answers=7, confidence_target=0.99)
    answers = _answers("cat", "cat", "cat", "cat")
    quality = _quality(answers, 0.9)
    assert needs_more_answers(policy, answers[:2], quality)
    decision = decide_overlap(policy, answers[:3], quality)
    assert (decision.outcome, decision.answer, decision.answers) == (
        OverlapOutcome.ENOUGH,
        "cat",
        3,
    )
    assert decision.confidence >= 0.99


def test_disagreement_asks_for_more_up_to_the_maximum_then_gives_up() -> None:
    policy = OverlapPolicy(min_answers=2, max_answers=6, confidence_target=0.9)
    answers = _answers("yes", "no", "yes", "no", "yes", "no", "yes")
    quality = _quality(answers, 0.8)
    for count in range(6):
        assert needs_more_answers(policy, answers[:count], quality), count
    decision = decide_overlap(policy, answers[:6], quality)
    # A tie at the maximum: the lower answer, at even odds.
    assert decision == OverlapDecision(OverlapOutcome.GIVE_UP, "no", pytest.approx(0.5), 6)


def test_a_tie_is_never_enough() -> None:
    policy = OverlapPolicy(min_answers=2, max_answers=4, confidence_target=0.5)
    assert needs_more_answers(policy, _answers("yes", "no"), {})


@given(policy=_policies(), arrivals=_arrivals)
def test_never_asks_past_the_maximum(
    policy: OverlapPolicy, arrivals: tuple[list[Label], dict[str, float]]
) -> None:
    answers, quality = arrivals
    decision = decide_overlap(policy, answers, quality)
    assert 0.0 <= decision.confidence <= 1.0
    if len(answers) < policy.min_answers:
        assert decision.outcome is OverlapOutcome.ASK_ONE_MORE
    if len(answers) >= policy.max_answers:
        assert decision.outcome is not OverlapOutcome.ASK_ONE_MORE
    if answers:
        assert decision.answer in {label.answer for label in answers}


@given(
    policy=_policies(),
    arrivals=_arrivals,
    targets=st.tuples(st.floats(0.5, 0.999), st.floats(0.5, 0.999)).map(sorted),
)
def test_a_higher_target_never_asks_for_fewer_answers(
    policy: OverlapPolicy,
    arrivals: tuple[list[Label], dict[str, float]],
    targets: list[float],
) -> None:
    answers, quality = arrivals
    lower, higher = (
        OverlapPolicy(policy.min_answers, policy.max_answers, target, policy.answer_classes)
        for target in targets
    )
    assert _answers_used(lower, answers, quality) <= _answers_used(higher, answers, quality)


@given(
    min_answers=st.integers(3, 5),
    extra=st.integers(0, 4),
    quality=st.floats(0.9, 1.0),
    classes=st.integers(2, 10),
)
def test_good_workers_in_agreement_never_need_more_than_the_minimum(
    min_answers: int, extra: int, quality: float, classes: int
) -> None:
    policy = OverlapPolicy(min_answers, min_answers + extra, 0.99, classes)
    answers = _answers(*["cat"] * min_answers)
    assert decide_overlap(policy, answers, _quality(answers, quality)).outcome is (
        OverlapOutcome.ENOUGH
    )


@given(arrivals=_arrivals, classes=st.integers(2, 5))
def test_the_posterior_is_a_distribution(
    arrivals: tuple[list[Label], dict[str, float]], classes: int
) -> None:
    answers, quality = arrivals
    posterior = answer_posterior(answers, quality, classes)
    assert all(0.0 <= p <= 1.0 for p in posterior.values())
    assert sum(posterior.values()) <= 1.0 + 1e-9
    if len({label.answer for label in answers}) >= classes:
        assert math.isclose(sum(posterior.values()), 1.0)
