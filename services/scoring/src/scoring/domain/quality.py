"""Worker quality per task type, and the pool eligibility the dispatcher gets from it.

Quality only ever decides eligibility: whether a worker is offered tasks of a type. It never
sets or scales pay; nothing here reads or produces a pay figure, and it must not be wired to
one.

The estimate is a Beta posterior over the worker's accuracy. Gold answers (checked against a
known answer) count with weight 1; agreement with the aggregated answer counts with a smaller
weight, since the aggregate can itself be wrong and a worker right against the crowd then
looks wrong.
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from scoring.domain.aggregation import Aggregate, Label

# One-sided 95%: a worker is excluded only when we are that sure they are below the bar.
DEFAULT_Z = 1.645


@dataclass(frozen=True)
class QualityPrior:
    """Beta(passes, failures) before any evidence, and the weight of one agreement.

    The default prior (3, 1) has mean 0.75: new workers start trusted. Raises ValueError
    unless both pseudo-counts are positive and 0 <= agreement_weight <= 1.
    """

    passes: float = 3.0
    failures: float = 1.0
    agreement_weight: float = 0.2

    def __post_init__(self) -> None:
        if not (self.passes > 0 and self.failures > 0):
            raise ValueError(
                f"prior pseudo-counts must be positive: {self.passes}, {self.failures}"
            )
        if not 0 <= self.agreement_weight <= 1:
            raise ValueError(f"agreement_weight {self.agreement_weight} is not in [0, 1]")


@dataclass(frozen=True)
class WorkerQuality:
    """What scoring knows of one worker's accuracy on one task type. Immutable: `after_gold`
    and `after_agreement` return the updated estimate."""

    worker_id: str
    task_type: str
    gold_passed: int = 0
    gold_failed: int = 0
    agreed: int = 0
    disagreed: int = 0
    prior: QualityPrior = field(default_factory=QualityPrior)

    def after_gold(self, passed: bool) -> "WorkerQuality":
        if passed:
            return replace(self, gold_passed=self.gold_passed + 1)
        return replace(self, gold_failed=self.gold_failed + 1)

    def after_agreement(self, agreed: bool) -> "WorkerQuality":
        if agreed:
            return replace(self, agreed=self.agreed + 1)
        return replace(self, disagreed=self.disagreed + 1)

    def after_agreements(self, counts: "Agreement") -> "WorkerQuality":
        """Adds a batch's agreement counts, as `agreement_counts` gives them."""
        return replace(
            self, agreed=self.agreed + counts.agreed, disagreed=self.disagreed + counts.disagreed
        )

    @property
    def gold_answers(self) -> int:
        return self.gold_passed + self.gold_failed

    @property
    def alpha(self) -> float:
        return self.prior.passes + self.gold_passed + self.prior.agreement_weight * self.agreed

    @property
    def beta(self) -> float:
        return self.prior.failures + self.gold_failed + self.prior.agreement_weight * self.disagreed

    @property
    def mean(self) -> float:
        """The posterior mean accuracy: the estimate to weigh this worker's answers by."""
        return _mean(self.alpha, self.beta)

    def lower_bound(self, z: float = DEFAULT_Z) -> float:
        """Mean minus z standard deviations (the normal approximation to the Beta), in [0, 1]."""
        return max(0.0, _mean(self.alpha, self.beta) - z * _sd(self.alpha, self.beta))

    def upper_bound(self, z: float = DEFAULT_Z) -> float:
        """Mean plus z standard deviations (the normal approximation to the Beta), in [0, 1]."""
        return _upper(self.alpha, self.beta, z)


@dataclass(frozen=True)
class EligibilityRule:
    """Who may be offered a task type: everyone but workers we are confident are below the bar.

    A worker is excluded only when the upper credible bound of their quality is below
    `min_quality`, so bad luck on a few gold tasks does not cost anyone their work. Until a
    worker has `min_gold` gold answers, the missing ones are counted as passes: new workers are
    always eligible, and one is excluded early only if passing every gold up to `min_gold`
    would not save them. (Judging the gold they have once they reach `min_gold` would make a
    worker's passing gold answer the one that excludes them.) Eligibility never affects pay.
    Raises ValueError unless 0 <= min_quality <= 1 and min_gold >= 0.
    """

    min_quality: float
    min_gold: int
    z: float = DEFAULT_Z

    def __post_init__(self) -> None:
        if not 0 <= self.min_quality <= 1:
            raise ValueError(f"min_quality {self.min_quality} is not in [0, 1]")
        if self.min_gold < 0:
            raise ValueError(f"min_gold {self.min_gold} is negative")

    def eligible(self, quality: WorkerQuality) -> bool:
        benefit_of_doubt = max(0, self.min_gold - quality.gold_answers)
        return _upper(quality.alpha + benefit_of_doubt, quality.beta, self.z) >= self.min_quality


@dataclass(frozen=True)
class Agreement:
    """How often one worker's answers matched the aggregated answer in a batch."""

    agreed: int = 0
    disagreed: int = 0


def agreement_counts(
    labels: Sequence[Label], aggregates: Mapping[str, Aggregate], min_confidence: float = 0.9
) -> dict[str, Agreement]:
    """Per worker, how many of their answers matched the aggregated answer and how many did not.

    Only tasks whose aggregate is at least `min_confidence` sure count: an uncertain aggregate
    is no yardstick. Labels of tasks without an aggregate are skipped. Feed the counts to
    `WorkerQuality.after_agreement` per task type.
    """
    agreed: dict[str, int] = defaultdict(int)
    disagreed: dict[str, int] = defaultdict(int)
    for label in labels:
        aggregate = aggregates.get(label.task_id)
        if aggregate is None or aggregate.confidence < min_confidence:
            continue
        if label.answer == aggregate.answer:
            agreed[label.worker_id] += 1
        else:
            disagreed[label.worker_id] += 1
    return {
        worker: Agreement(agreed[worker], disagreed[worker])
        for worker in sorted(agreed.keys() | disagreed.keys())
    }


def _mean(alpha: float, beta: float) -> float:
    return alpha / (alpha + beta)


def _sd(alpha: float, beta: float) -> float:
    total = alpha + beta
    return math.sqrt(alpha * beta / (total * total * (total + 1)))


def _upper(alpha: float, beta: float, z: float) -> float:
    return min(1.0, _mean(alpha, beta) + z * _sd(alpha, beta))
