"""Aggregating several workers' answers to one task into one answer: majority vote and Dawid-Skene.

Answers are compared as given, so callers pass them through `verdicts.normalize_answer` first
(the same form gold answers are checked in); "Cat " and "cat" would otherwise be two classes.
Each worker answers a task at most once: a second label for the same (task, worker) raises
DuplicateLabelError rather than silently counting twice.

Ties are broken towards the answer that sorts lowest, so the result never depends on the order
the labels arrived in.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.domain.errors import DuplicateLabelError

_FloatArray = npt.NDArray[np.float64]
_IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Label:
    """One worker's (normalized) answer to one task."""

    task_id: str
    worker_id: str
    answer: str


@dataclass(frozen=True)
class Aggregate:
    """The answer chosen for a task, how sure the method is of it, and how many answers it saw."""

    answer: str
    # Majority vote: the (weighted) share of the winning answer. Dawid-Skene: its posterior.
    confidence: float
    answers: int


def _check_unique(labels: Iterable[Label]) -> None:
    seen: set[tuple[str, str]] = set()
    for label in labels:
        key = (label.task_id, label.worker_id)
        if key in seen:
            raise DuplicateLabelError(label.task_id, label.worker_id)
        seen.add(key)


def _winner(totals: Mapping[str, float]) -> str:
    """The answer with the largest total; among equal totals, the one that sorts lowest."""
    return min(totals, key=lambda answer: (-totals[answer], answer))


def majority_vote(
    labels: Sequence[Label],
    worker_weights: Mapping[str, float] | None = None,
    default_weight: float = 1.0,
) -> dict[str, Aggregate]:
    """The most frequent answer per task, optionally weighted by worker quality.

    With `worker_weights`, each answer counts with its worker's weight (workers not in the
    mapping count `default_weight`); without, every answer counts 1. Confidence is the winning
    answer's share of the task's total weight. A tie goes to the answer that sorts lowest.
    Raises ValueError for a weight that is not a positive finite number.
    """
    _check_unique(labels)
    weights = worker_weights or {}
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[str, int] = defaultdict(int)
    # Summed in a fixed order: float sums of weights then tie the same way for every caller.
    for label in sorted(labels, key=lambda label: (label.task_id, label.worker_id)):
        weight = weights.get(label.worker_id, default_weight)
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"worker {label.worker_id} has weight {weight}; need > 0")
        totals[label.task_id][label.answer] += weight
        counts[label.task_id] += 1
    aggregates = {}
    for task_id, by_answer in totals.items():
        answer = _winner(by_answer)
        confidence = min(1.0, by_answer[answer] / sum(by_answer.values()))
        aggregates[task_id] = Aggregate(answer, confidence, counts[task_id])
    return aggregates


@dataclass(frozen=True)
class DawidSkeneResult:
    """What Dawid-Skene learned from one batch of labels.

    `tasks` has one Aggregate per task: the most probable answer among those its workers gave
    (a result released to a platform is one worker's answer, so DS may weigh an adversary's
    answer as evidence for another class but never invent an answer nobody gave), with its
    posterior as confidence. `posteriors` is the full distribution over `classes` per task.
    `worker_skills` is each worker's accuracy read off its confusion matrix,
    Σ_c prior(c) · P(worker says c | truth is c): the chance the worker is right on a task
    drawn from this batch. `priors` are the class shares.
    """

    tasks: Mapping[str, Aggregate]
    posteriors: Mapping[str, Mapping[str, float]]
    worker_skills: Mapping[str, float]
    priors: Mapping[str, float]
    classes: tuple[str, ...]
    iterations: int
    converged: bool


@dataclass(frozen=True)
class _Encoded:
    tasks: list[str]
    workers: list[str]
    classes: list[str]
    task_of: _IntArray
    worker_of: _IntArray
    class_of: _IntArray


def _encode(labels: Sequence[Label]) -> _Encoded:
    # Sums in a fixed order, so near-ties come out the same whatever order the labels came in.
    labels = sorted(labels, key=lambda label: (label.task_id, label.worker_id))
    tasks = sorted({label.task_id for label in labels})
    workers = sorted({label.worker_id for label in labels})
    classes = sorted({label.answer for label in labels})
    task_index = {task: i for i, task in enumerate(tasks)}
    worker_index = {worker: i for i, worker in enumerate(workers)}
    class_index = {answer: i for i, answer in enumerate(classes)}
    return _Encoded(
        tasks,
        workers,
        classes,
        np.array([task_index[label.task_id] for label in labels], dtype=np.intp),
        np.array([worker_index[label.worker_id] for label in labels], dtype=np.intp),
        np.array([class_index[label.answer] for label in labels], dtype=np.intp),
    )


def _vote_shares(data: _Encoded) -> _FloatArray:
    """The unweighted majority-vote distribution per task: Dawid-Skene's starting point."""
    votes = np.zeros((len(data.tasks), len(data.classes)))
    np.add.at(votes, (data.task_of, data.class_of), 1.0)
    shares: _FloatArray = votes / votes.sum(axis=1, keepdims=True)
    return shares


def _class_priors(posteriors: _FloatArray, smoothing: float) -> _FloatArray:
    tasks, classes = posteriors.shape
    priors: _FloatArray = (posteriors.sum(axis=0) + smoothing) / (tasks + classes * smoothing)
    return priors


def _confusions(data: _Encoded, posteriors: _FloatArray, smoothing: float) -> _FloatArray:
    """M-step: confusion[w, k, c] = P(worker w answers k | the true answer is c).

    Expected counts from the current posteriors plus `smoothing` in every cell, so a worker
    never seen on some true class gets a uniform column there instead of 0/0.
    """
    counts = np.full((len(data.workers), len(data.classes), len(data.classes)), smoothing)
    np.add.at(counts, (data.worker_of, data.class_of), posteriors[data.task_of])
    confusions: _FloatArray = counts / counts.sum(axis=1, keepdims=True)
    return confusions


def _posteriors(
    data: _Encoded, priors: _FloatArray, confusions: _FloatArray
) -> tuple[_FloatArray, float]:
    """E-step: P(true answer of each task), and the labels' log-likelihood under the model.

    Works in logs: a product of many probabilities underflows long before it matters.
    """
    log_joint = np.tile(np.log(priors), (len(data.tasks), 1))
    np.add.at(log_joint, data.task_of, np.log(confusions[data.worker_of, data.class_of]))
    peak = log_joint.max(axis=1, keepdims=True)
    scaled = np.exp(log_joint - peak)
    totals = scaled.sum(axis=1, keepdims=True)
    log_likelihood = float((np.log(totals) + peak).sum())
    posteriors: _FloatArray = scaled / totals
    return posteriors, log_likelihood


def dawid_skene(
    labels: Sequence[Label],
    max_iterations: int = 100,
    tolerance: float = 1e-5,
    smoothing: float = 1e-6,
) -> DawidSkeneResult:
    """Dawid-Skene (1979) by expectation-maximisation, started from majority vote.

    Each worker gets a full confusion matrix over the classes seen in `labels`; EM alternates
    estimating the tasks' true answers (E) and the workers' confusions and class priors (M),
    and stops when the log-likelihood per label improves by less than `tolerance`.

    `smoothing` is a pseudo-count added to every confusion cell and class count (a symmetric
    Dirichlet prior), which keeps every probability positive: no label, one label, one class
    or a worker with a single label give finite results, never NaN. It is kept tiny on purpose:
    larger values (0.01 and up) pull sparse workers' confusions towards uniform enough to move
    EM to other answers on 5-class data, away from both crowd-kit and the truth.

    Against crowd-kit's DawidSkene, which this follows (same start, same E and M steps): run
    for the same number of iterations the posteriors agree to about 1e-9. Two deliberate
    differences remain. crowd-kit clips probabilities at 1e-10 and normalises a worker's
    confusion column over the answers that worker gave, so a worker with no evidence on a true
    class is assumed to give one of its own answers; here that column is uniform over all
    classes. And it stops on its evidence lower bound, this on the log-likelihood, so the two
    may stop a few iterations apart. The aggregated answers agree on about 99% of tasks.
    Raises ValueError unless smoothing > 0 and max_iterations >= 1.
    """
    if not smoothing > 0:
        raise ValueError(f"smoothing must be positive, not {smoothing}")
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, not {max_iterations}")
    _check_unique(labels)
    if not labels:
        return DawidSkeneResult({}, {}, {}, {}, (), 0, True)
    data = _encode(labels)
    posteriors = _vote_shares(data)
    priors = _class_priors(posteriors, smoothing)
    confusions = _confusions(data, posteriors, smoothing)
    previous = -math.inf
    iterations, converged = 0, False
    while iterations < max_iterations and not converged:
        posteriors, log_likelihood = _posteriors(data, priors, confusions)
        priors = _class_priors(posteriors, smoothing)
        confusions = _confusions(data, posteriors, smoothing)
        iterations += 1
        converged = (log_likelihood - previous) / len(labels) < tolerance
        previous = log_likelihood
    return _result(data, posteriors, priors, confusions, iterations, converged)


def _result(
    data: _Encoded,
    posteriors: _FloatArray,
    priors: _FloatArray,
    confusions: _FloatArray,
    iterations: int,
    converged: bool,
) -> DawidSkeneResult:
    answers_per_task = np.bincount(data.task_of, minlength=len(data.tasks))
    given = np.zeros(posteriors.shape, dtype=bool)
    given[data.task_of, data.class_of] = True
    # Only an answer somebody gave can be released, so the choice is among those; argmax takes
    # the first maximum and classes are sorted, so ties go to the lowest answer.
    best = np.where(given, posteriors, -1.0).argmax(axis=1)
    tasks = {
        task: Aggregate(
            data.classes[best[i]], float(posteriors[i, best[i]]), int(answers_per_task[i])
        )
        for i, task in enumerate(data.tasks)
    }
    skills = np.einsum("c,wcc->w", priors, confusions)
    return DawidSkeneResult(
        tasks=tasks,
        posteriors={
            task: dict(zip(data.classes, map(float, posteriors[i]), strict=True))
            for i, task in enumerate(data.tasks)
        },
        worker_skills=dict(zip(data.workers, map(float, skills), strict=True)),
        priors=dict(zip(data.classes, map(float, priors), strict=True)),
        classes=tuple(data.classes),
        iterations=iterations,
        converged=converged,
    )
