"""Dynamic overlap: how many workers answer a task, decided one answer at a time.

A task type has an OverlapPolicy. After each answer, `decide_overlap` says whether the answers
so far are enough (the best answer's posterior has reached the confidence target), whether to
ask one more worker, or whether to give up at the maximum with the best answer so far and its
low confidence. Easy tasks that good workers agree on stop at `min_answers`; only contested ones
cost more answers.

The posterior treats each worker as right with probability q (their quality, an accuracy) and
otherwise wrong uniformly over the other K - 1 answers, with a uniform prior over K answers:

    P(true answer = a | answers)  ∝  (1/K) · Π_w [q_w if w answered a, else (1 - q_w)/(K - 1)]

normalised over all K answers, including the K - m that nobody gave (they share one likelihood,
each worker's (1 - q_w)/(K - 1)). K is the policy's `answer_classes`, or the number of
distinct answers seen if that is larger.
"""

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scoring.domain.aggregation import Label
from scoring.domain.errors import DuplicateLabelError

# No worker is taken to be certain, so no single answer settles a task by itself.
MAX_QUALITY = 0.999


@dataclass(frozen=True)
class OverlapPolicy:
    """How many answers one task type asks for, and how sure it wants to be.

    `answer_classes` is how many answers the task type admits (2 for yes/no; for open-ended
    answers a large number). `unknown_worker_quality` stands in for a worker with no estimate.
    Raises ValueError unless 1 <= min_answers <= max_answers, 0.5 <= confidence_target < 1,
    answer_classes >= 2 and 0 <= unknown_worker_quality <= 1.
    """

    min_answers: int
    max_answers: int
    confidence_target: float
    answer_classes: int = 2
    unknown_worker_quality: float = 0.7

    def __post_init__(self) -> None:
        if not 1 <= self.min_answers <= self.max_answers:
            raise ValueError(
                f"need 1 <= min_answers <= max_answers, got {self.min_answers}, {self.max_answers}"
            )
        if not 0.5 <= self.confidence_target < 1:
            raise ValueError(f"confidence_target {self.confidence_target} is not in [0.5, 1)")
        if self.answer_classes < 2:
            raise ValueError(f"answer_classes {self.answer_classes} is below 2")
        if not 0 <= self.unknown_worker_quality <= 1:
            raise ValueError(f"unknown_worker_quality {self.unknown_worker_quality} not in [0, 1]")


class OverlapOutcome(enum.Enum):
    ENOUGH = "enough"
    ASK_ONE_MORE = "ask_one_more"
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class OverlapDecision:
    """What to do with a task now, and the best answer so far ("" before the first answer)."""

    outcome: OverlapOutcome
    answer: str
    confidence: float
    answers: int

    @property
    def needs_more_answers(self) -> bool:
        return self.outcome is OverlapOutcome.ASK_ONE_MORE


def answer_posterior(
    answers_for_task: Sequence[Label],
    worker_quality: Mapping[str, float],
    answer_classes: int,
    unknown_worker_quality: float = 0.7,
) -> dict[str, float]:
    """P(true answer = a) for each answer given, by the formula in the module docstring.

    The values sum to at most 1: the rest is on answers nobody gave. Qualities are clamped to
    [1/K, MAX_QUALITY]: a worker no better than chance tells us nothing (reading a worse one
    as a reliable contrarian needs more evidence than one task has), and none is certain.
    Raises ValueError for a quality outside [0, 1] and DuplicateLabelError for a worker who
    answered twice.
    """
    given = _answers_by_worker(answers_for_task)
    classes = max(answer_classes, len(set(given.values())))
    # log L(a) = Σ_w log((1 - q_w)/(K - 1)) + Σ_{w answered a} log(q_w (K - 1)/(1 - q_w)): the
    # first sum is common to every answer and cancels, as does the uniform prior, so each answer
    # weighs exp(its workers' log odds) and each answer nobody gave exp(0).
    log_right_bonus: dict[str, float] = dict.fromkeys(given.values(), 0.0)
    for worker_id, answer in given.items():
        quality = _clamped(worker_quality.get(worker_id, unknown_worker_quality), classes)
        log_wrong = math.log((1 - quality) / (classes - 1))
        log_right_bonus[answer] += math.log(quality) - log_wrong
    unseen = classes - len(log_right_bonus)
    # Clamping keeps every bonus >= 0, so the peak is >= 0 and nothing below overflows.
    peak = max(log_right_bonus.values(), default=0.0)
    weights = {answer: math.exp(bonus - peak) for answer, bonus in log_right_bonus.items()}
    total = sum(weights.values()) + unseen * math.exp(-peak)
    return {answer: weight / total for answer, weight in weights.items()}


def decide_overlap(
    policy: OverlapPolicy,
    answers_for_task: Sequence[Label],
    worker_quality: Mapping[str, float],
) -> OverlapDecision:
    """Enough, one more, or give up, for one task's answers so far.

    Fewer than `min_answers`: always one more. Otherwise ENOUGH once the best answer's
    posterior reaches `confidence_target` (and it is not tied); at or past `max_answers`,
    GIVE_UP with the best answer so far. Never asks for an answer past `max_answers`.
    Ties for the best answer go to the answer that sorts lowest.
    """
    count = len(answers_for_task)
    posterior = answer_posterior(
        answers_for_task, worker_quality, policy.answer_classes, policy.unknown_worker_quality
    )
    ranked = sorted(posterior.items(), key=lambda item: (-item[1], item[0]))
    answer, confidence = ranked[0] if ranked else ("", 0.0)
    tied = len(ranked) > 1 and ranked[1][1] == confidence
    if count < policy.min_answers:
        outcome = OverlapOutcome.ASK_ONE_MORE
    elif confidence >= policy.confidence_target and not tied:
        outcome = OverlapOutcome.ENOUGH
    elif count >= policy.max_answers:
        outcome = OverlapOutcome.GIVE_UP
    else:
        outcome = OverlapOutcome.ASK_ONE_MORE
    return OverlapDecision(outcome, answer, confidence, count)


def needs_more_answers(
    policy: OverlapPolicy,
    answers_for_task: Sequence[Label],
    worker_quality: Mapping[str, float],
) -> bool:
    """Whether to offer the task to one more worker; `decide_overlap` says why."""
    return decide_overlap(policy, answers_for_task, worker_quality).needs_more_answers


def _answers_by_worker(answers_for_task: Sequence[Label]) -> dict[str, str]:
    tasks = {label.task_id for label in answers_for_task}
    if len(tasks) > 1:
        raise ValueError(f"answers for more than one task: {sorted(tasks)}")
    given: dict[str, str] = {}
    for label in answers_for_task:
        if label.worker_id in given:
            raise DuplicateLabelError(label.task_id, label.worker_id)
        given[label.worker_id] = label.answer
    return given


def _clamped(quality: float, classes: int) -> float:
    if not 0 <= quality <= 1:
        raise ValueError(f"worker quality {quality} is not in [0, 1]")
    return min(max(quality, 1 / classes), MAX_QUALITY)
