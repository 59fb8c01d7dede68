"""Scoring's Dawid-Skene checked against crowd-kit's on generated crowds with a known truth.

Measured when written, 8 seeds per crowd (400 tasks), default settings on both sides, crowd-kit
read the way `dawid_skene` reads itself (best answer among those given): mixed 399/400, many
spammers 388/400, large and hostile 396/400, two classes 397/400 answers equal. Taking
crowd-kit's own labels, which may be an answer nobody gave, 396, 378, 389 and 392. The rest
are tasks where the two stop a few iterations apart or a worker's unseen confusion column
matters (see `dawid_skene`). Run for the same fixed number of iterations, the posteriors agree
to ~1e-9. crowd-kit takes about half a second a fit, so the tests use few seeds.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from scoring.domain.aggregation import Label, dawid_skene, majority_vote

# crowd-kit 1.4.2 uses pandas keywords that pandas 3 deprecates; its warnings are not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crowdkit.*")


@dataclass(frozen=True)
class Crowd:
    """A generated crowd: good workers of accuracy 0.55-0.95, spammers answering at random,
    adversaries always giving the next class after the true one."""

    tasks: int = 50
    classes: int = 3
    good: int = 7
    spammers: int = 2
    adversaries: int = 1
    min_overlap: int = 3
    max_overlap: int = 5

    def labels(self, seed: int) -> tuple[list[Label], dict[str, str]]:
        rng = random.Random(seed)
        answers = [f"class-{k}" for k in range(self.classes)]
        truth = {f"task-{i:03}": rng.choice(answers) for i in range(self.tasks)}
        accuracy = {f"good-{i}": rng.uniform(0.55, 0.95) for i in range(self.good)}
        workers = [
            *accuracy,
            *(f"spammer-{i}" for i in range(self.spammers)),
            *(f"adversary-{i}" for i in range(self.adversaries)),
        ]
        labels = []
        for task, true in truth.items():
            for worker in rng.sample(workers, rng.randint(self.min_overlap, self.max_overlap)):
                if worker.startswith("spammer"):
                    answer = rng.choice(answers)
                elif worker.startswith("adversary"):
                    answer = answers[(answers.index(true) + 1) % self.classes]
                elif rng.random() < accuracy[worker]:
                    answer = true
                else:
                    answer = rng.choice([a for a in answers if a != true])
                labels.append(Label(task, worker, answer))
        return labels, truth


_CROWDS = {
    "mixed": Crowd(),
    "many spammers": Crowd(good=5, spammers=5, adversaries=0),
    "large and hostile": Crowd(good=10, spammers=8, adversaries=2),
    "two classes": Crowd(classes=2),
}


def _crowd_kit(labels: Sequence[Label], iterations: int, tolerance: float) -> DawidSkene:
    frame = pd.DataFrame(
        {
            "task": [label.task_id for label in labels],
            "worker": [label.worker_id for label in labels],
            "label": [label.answer for label in labels],
        }
    )
    return DawidSkene(n_iter=iterations, tol=tolerance).fit(frame)


@pytest.mark.parametrize("seed", [0, 1])
def test_step_for_step_the_posteriors_are_crowd_kits(seed: int) -> None:
    labels, truth = _CROWDS["mixed"].labels(seed)
    reference = _crowd_kit(labels, iterations=20, tolerance=-math.inf)
    ours = dawid_skene(labels, max_iterations=20, tolerance=-math.inf, smoothing=1e-12)
    assert ours.iterations == 20
    probas = reference.probas_
    assert probas is not None
    for task in truth:
        for answer in probas.columns:
            assert ours.posteriors[task][answer] == pytest.approx(
                probas.loc[task, answer], abs=1e-6
            )


def _best_given_answer(probas: pd.DataFrame, labels: Sequence[Label]) -> dict[str, str]:
    """crowd-kit's posteriors read the way `dawid_skene` reads its own: the most probable
    answer among those the task's workers gave, ties to the lowest."""
    given: dict[str, set[str]] = {}
    for label in labels:
        given.setdefault(label.task_id, set()).add(label.answer)
    return {
        task: min(answers, key=lambda a: (-probas.loc[task, a], a))
        for task, answers in given.items()
    }


@pytest.mark.parametrize("crowd", _CROWDS.values(), ids=_CROWDS.keys())
def test_the_aggregated_answers_are_crowd_kits_on_nearly_every_task(crowd: Crowd) -> None:
    same = total = 0
    for seed in range(4):
        labels, truth = crowd.labels(seed)
        probas = _crowd_kit(labels, iterations=100, tolerance=1e-5).probas_
        assert probas is not None
        reference = _best_given_answer(probas, labels)
        ours = dawid_skene(labels).tasks
        same += sum(ours[task].answer == reference[task] for task in truth)
        total += len(truth)
    assert same / total >= 0.95


def _accuracy(answers: dict[str, str], truth: dict[str, str]) -> float:
    return float(np.mean([answers[task] == true for task, true in truth.items()]))


def test_dawid_skene_beats_majority_vote_when_spammers_abound() -> None:
    crowd = Crowd(good=6, spammers=8, adversaries=1)
    mv_accuracy, ds_accuracy = [], []
    for seed in range(20):
        labels, truth = crowd.labels(seed)
        mv_accuracy.append(
            _accuracy({t: a.answer for t, a in majority_vote(labels).items()}, truth)
        )
        ds_accuracy.append(
            _accuracy({t: a.answer for t, a in dawid_skene(labels).tasks.items()}, truth)
        )
    assert np.mean(ds_accuracy) > np.mean(mv_accuracy) + 0.05
    # Not just on average: DS is at least as good on most crowds.
    assert sum(ds >= mv for ds, mv in zip(ds_accuracy, mv_accuracy, strict=True)) >= 14
