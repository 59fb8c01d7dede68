"""Worker quality: a Beta posterior from gold and agreement; eligibility that errs to work."""

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.domain.aggregation import Aggregate, Label
from scoring.domain.quality import (
    Agreement,
    EligibilityRule,
    QualityPrior,
    WorkerQuality,
    agreement_counts,
)

_counts = st.integers(0, 200)
_priors = st.builds(
    QualityPrior,
    passes=st.floats(0.1, 10),
    failures=st.floats(0.1, 10),
    agreement_weight=st.floats(0, 1),
)
_qualities = st.builds(
    WorkerQuality,
    worker_id=st.just("w"),
    task_type=st.just("label"),
    gold_passed=_counts,
    gold_failed=_counts,
    agreed=_counts,
    disagreed=_counts,
    prior=_priors,
)
_rules = st.builds(EligibilityRule, min_quality=st.floats(0, 1), min_gold=st.integers(0, 20))


def _worker(**counts: int) -> WorkerQuality:
    return WorkerQuality("w", "label", **counts)


def test_a_new_worker_starts_at_the_prior() -> None:
    assert _worker().mean == pytest.approx(0.75)


def test_gold_counts_more_than_agreement() -> None:
    assert _worker(gold_passed=5).mean > _worker(agreed=5).mean > _worker().mean
    assert _worker(gold_failed=5).mean < _worker(disagreed=5).mean < _worker().mean


def test_updates_return_a_new_estimate() -> None:
    worker = _worker()
    updated = worker.after_gold(True).after_gold(False).after_agreement(True)
    assert (updated.gold_passed, updated.gold_failed, updated.agreed, updated.disagreed) == (
        1,
        1,
        1,
        0,
    )
    assert worker == _worker()
    assert updated.after_agreements(Agreement(2, 3)).disagreed == 3


def test_the_bounds_bracket_the_mean_and_narrow_with_evidence() -> None:
    few, many = _worker(gold_passed=4, gold_failed=1), _worker(gold_passed=40, gold_failed=10)
    assert few.lower_bound() < few.mean < few.upper_bound()
    assert few.upper_bound() - few.lower_bound() > many.upper_bound() - many.lower_bound()


def test_quality_carries_no_pay_or_region() -> None:
    names = {f.name for f in dataclasses.fields(WorkerQuality)}
    names |= {f.name for f in dataclasses.fields(EligibilityRule)}
    assert not {name for name in names if "pay" in name or "price" in name or "region" in name}


def test_two_failed_golds_do_not_exclude_anyone() -> None:
    rule = EligibilityRule(min_quality=0.7, min_gold=2)
    assert rule.eligible(_worker(gold_failed=2))


def test_a_worker_clearly_below_the_bar_is_excluded() -> None:
    rule = EligibilityRule(min_quality=0.7, min_gold=5)
    assert not rule.eligible(_worker(gold_passed=4, gold_failed=16))
    assert rule.eligible(_worker(gold_passed=14, gold_failed=6))


def test_a_worker_with_few_golds_is_judged_as_if_the_rest_were_passed() -> None:
    rule = EligibilityRule(min_quality=0.7, min_gold=10)
    assert rule.eligible(_worker(gold_failed=3))
    # Even passing the one gold still to come would leave them well below the bar.
    assert not rule.eligible(_worker(gold_failed=9))


@pytest.mark.parametrize(
    ("make", "complaint"),
    [
        (lambda: QualityPrior(passes=0), "pseudo-counts"),
        (lambda: QualityPrior(agreement_weight=1.5), "agreement_weight"),
        (lambda: EligibilityRule(min_quality=1.2, min_gold=1), "min_quality"),
        (lambda: EligibilityRule(min_quality=0.5, min_gold=-1), "min_gold"),
    ],
)
def test_settings_are_validated(make: Callable[[], object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        make()


def test_agreement_counts_only_confident_aggregates() -> None:
    labels = [
        Label("sure", "a", "cat"),
        Label("sure", "b", "dog"),
        Label("unsure", "a", "cat"),
        Label("unknown", "c", "cat"),
    ]
    aggregates = {"sure": Aggregate("cat", 0.95, 2), "unsure": Aggregate("cat", 0.6, 1)}
    assert agreement_counts(labels, aggregates, min_confidence=0.9) == {
        "a": Agreement(agreed=1),
        "b": Agreement(disagreed=1),
    }


@given(quality=_qualities)
def test_the_estimate_stays_in_range(quality: WorkerQuality) -> None:
    assert 0.0 <= quality.lower_bound() <= quality.mean <= quality.upper_bound() <= 1.0


@given(quality=_qualities)
def test_a_pass_never_lowers_the_mean_and_a_failure_never_raises_it(
    quality: WorkerQuality,
) -> None:
    assert quality.after_gold(True).mean >= quality.mean >= quality.after_gold(False).mean
    assert quality.after_agreement(True).mean >= quality.mean
    assert quality.after_agreement(False).mean <= quality.mean


@given(rule=_rules, quality=_qualities)
def test_a_pass_never_costs_eligibility(rule: EligibilityRule, quality: WorkerQuality) -> None:
    if rule.eligible(quality):
        assert rule.eligible(quality.after_gold(True))
        assert rule.eligible(quality.after_agreement(True))


@given(rule=_rules, quality=_qualities)
def test_a_failure_never_earns_eligibility(rule: EligibilityRule, quality: WorkerQuality) -> None:
    if not rule.eligible(quality):
        assert not rule.eligible(quality.after_gold(False))
        assert not rule.eligible(quality.after_agreement(False))


@given(min_quality=st.floats(0, 0.9), min_gold=st.integers(1, 20))
def test_a_new_worker_is_eligible(min_quality: float, min_gold: int) -> None:
    assert EligibilityRule(min_quality, min_gold).eligible(_worker())
