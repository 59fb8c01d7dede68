"""Majority vote and Dawid-Skene on hand-made and generated labels (crowd-kit checks live apart)."""

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.domain.aggregation import Aggregate, Label, dawid_skene, majority_vote
from scoring.domain.errors import DuplicateLabelError


def _labels(*rows: tuple[str, str, str]) -> list[Label]:
    return [Label(task, worker, answer) for task, worker, answer in rows]


def _ds_tasks(labels: Sequence[Label]) -> Mapping[str, Aggregate]:
    return dawid_skene(labels).tasks


_AGGREGATORS: list[Callable[[Sequence[Label]], Mapping[str, Aggregate]]] = [
    majority_vote,
    _ds_tasks,
]

# Few tasks, workers and answers, so generated batches overlap and disagree.
_label_batches = st.dictionaries(
    keys=st.tuples(st.sampled_from("tuvwxyz"), st.sampled_from("abcdefgh")),
    values=st.sampled_from(["no", "yes", "maybe"]),
    max_size=40,
).map(lambda answers: [Label(t, w, a) for (t, w), a in sorted(answers.items())])


def test_the_most_common_answer_wins_with_its_share() -> None:
    labels = _labels(("t", "a", "cat"), ("t", "b", "cat"), ("t", "c", "dog"))
    assert majority_vote(labels) == {"t": Aggregate("cat", pytest.approx(2 / 3), 3)}


def test_a_tie_goes_to_the_answer_that_sorts_lowest_whatever_the_order() -> None:
    labels = _labels(("t", "a", "dog"), ("t", "b", "cat"))
    assert majority_vote(labels)["t"] == Aggregate("cat", 0.5, 2)
    assert majority_vote(labels[::-1])["t"] == Aggregate("cat", 0.5, 2)


def test_weights_let_one_good_worker_outvote_two_poor_ones() -> None:
    labels = _labels(("t", "good", "dog"), ("t", "poor-1", "cat"), ("t", "poor-2", "cat"))
    weights = {"good": 0.9, "poor-1": 0.3, "poor-2": 0.3}
    assert majority_vote(labels, weights)["t"] == Aggregate("dog", pytest.approx(0.6), 3)


def test_a_worker_without_a_weight_counts_the_default() -> None:
    labels = _labels(("t", "known", "dog"), ("t", "new", "cat"))
    assert majority_vote(labels, {"known": 0.5}, default_weight=0.8)["t"].answer == "cat"


@pytest.mark.parametrize("weight", [0.0, -1.0, math.nan, math.inf])
def test_a_weight_must_be_positive_and_finite(weight: float) -> None:
    with pytest.raises(ValueError, match="weight"):
        majority_vote(_labels(("t", "a", "cat")), {"a": weight})


@pytest.mark.parametrize("aggregate", [majority_vote, dawid_skene])
def test_a_worker_answering_a_task_twice_is_refused(
    aggregate: Callable[[Sequence[Label]], object],
) -> None:
    with pytest.raises(DuplicateLabelError, match="w answered task t"):
        aggregate(_labels(("t", "w", "cat"), ("t", "w", "dog")))


def test_dawid_skene_on_no_labels_is_empty() -> None:
    result = dawid_skene([])
    assert (result.tasks, result.worker_skills, result.priors, result.iterations) == ({}, {}, {}, 0)


@pytest.mark.parametrize(
    "labels",
    [
        _labels(("t", "a", "cat")),
        _labels(("t", "a", "cat"), ("u", "a", "cat"), ("u", "b", "cat")),
        _labels(("t", "a", "cat"), ("t", "b", "dog")),
        _labels(("t", "a", "cat"), ("t", "b", "cat"), ("u", "a", "dog"), ("v", "lone", "dog")),
    ],
    ids=["one label", "one class", "an even split", "a worker with one label"],
)
def test_dawid_skene_on_degenerate_input_is_finite(labels: list[Label]) -> None:
    result = dawid_skene(labels)
    numbers = [
        *(a.confidence for a in result.tasks.values()),
        *result.worker_skills.values(),
        *result.priors.values(),
        *(p for posterior in result.posteriors.values() for p in posterior.values()),
    ]
    assert all(0.0 <= n <= 1.0 for n in numbers)
    assert set(result.tasks) == {label.task_id for label in labels}
    assert math.isclose(sum(result.priors.values()), 1.0)


def test_dawid_skene_learns_who_to_believe() -> None:
    # Three reliable workers agree on every task; "contrarian" always says the other answer.
    # On a task only the contrarian and one reliable worker saw, DS sides with the reliable one.
    truth = {f"t{i}": ("yes", "no")[i % 2] for i in range(12)}
    flip = {"yes": "no", "no": "yes"}
    labels = [
        Label(task, worker, answer)
        for task, answer in truth.items()
        for worker in ("r1", "r2", "r3")
    ] + [Label(task, "contrarian", flip[answer]) for task, answer in truth.items()]
    labels += _labels(("odd", "contrarian", "no"), ("odd", "r1", "yes"))
    result = dawid_skene(labels)
    assert result.tasks["odd"].answer == "yes"
    assert result.tasks["odd"].confidence > 0.99
    assert result.worker_skills["r1"] > 0.99
    assert result.worker_skills["contrarian"] < 0.01
    assert result.converged


def test_dawid_skene_argument_checks() -> None:
    with pytest.raises(ValueError, match="smoothing"):
        dawid_skene(_labels(("t", "a", "cat")), smoothing=0.0)
    with pytest.raises(ValueError, match="max_iterations"):
        dawid_skene(_labels(("t", "a", "cat")), max_iterations=0)


@pytest.mark.parametrize("aggregate", _AGGREGATORS, ids=["majority_vote", "dawid_skene"])
@given(labels=_label_batches)
def test_one_answer_per_task_from_that_tasks_answers(
    aggregate: Callable[[Sequence[Label]], Mapping[str, Aggregate]], labels: list[Label]
) -> None:
    given_answers: dict[str, set[str]] = defaultdict(set)
    for label in labels:
        given_answers[label.task_id].add(label.answer)
    aggregates = aggregate(labels)
    assert set(aggregates) == set(given_answers)
    for task_id, aggregate_ in aggregates.items():
        assert aggregate_.answer in given_answers[task_id]
        assert 0.0 <= aggregate_.confidence <= 1.0
        assert aggregate_.answers == sum(1 for label in labels if label.task_id == task_id)
        if len(given_answers[task_id]) == 1:
            assert aggregate_.answer == next(iter(given_answers[task_id]))


@given(labels=_label_batches, data=st.data())
def test_the_order_of_the_labels_does_not_matter(labels: list[Label], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(labels))
    weights = {worker: 0.1 * (1 + ord(worker) % 7) for worker in "abcdefgh"}
    assert majority_vote(shuffled) == majority_vote(labels)
    assert majority_vote(shuffled, weights) == majority_vote(labels, weights)
    assert dawid_skene(shuffled) == dawid_skene(labels)


@given(labels=_label_batches)
def test_dawid_skene_outputs_are_distributions(labels: list[Label]) -> None:
    result = dawid_skene(labels)
    for posterior in result.posteriors.values():
        assert math.isclose(sum(posterior.values()), 1.0)
    if labels:
        assert math.isclose(sum(result.priors.values()), 1.0)
    assert all(0.0 <= skill <= 1.0 for skill in result.worker_skills.values())
