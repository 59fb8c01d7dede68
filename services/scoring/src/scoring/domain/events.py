"""Events scoring publishes."""

from dataclasses import dataclass
from datetime import datetime

from scoring.domain.model import Submission, Verdict


@dataclass(frozen=True)
class SubmissionScored:
    """Scoring's decision on one submission; payroll pays on it, idempotently per submission."""

    submission: Submission
    verdict: Verdict
    gold: bool
    scored_at: datetime


@dataclass(frozen=True)
class EligibilityChange:
    """A worker's measured quality moved them into or out of a task type's pool. Quality
    decides eligibility only, never pay."""

    worker_id: str
    platform_id: str
    task_type: str
    eligible: bool
    quality: float
    gold_passed: int
    gold_failed: int
    changed_at: datetime


@dataclass(frozen=True)
class AnswerWanted:
    """Scoring wants answer `answer_number` to the platform's task `task_id`, through copy
    `answer_task_id`, from anyone but `answered_by`. Idempotent by answer_task_id."""

    task_id: str
    platform_id: str
    answer_number: int
    answer_task_id: str
    answered_by: tuple[str, ...]
    # How many times scoring asked again after waiting long (0: the first ask); each time is
    # its own event, which the dispatcher answers again (a withdrawn copy: TaskCancelled).
    asked_again: int = 0


@dataclass(frozen=True)
class AnswersAggregated:
    """The answer scoring settled on for a platform's task, from the answers it counted.
    `confident` is False when the maximum answered without reaching the target; the copies
    in `unused_task_ids` were never asked for."""

    task_id: str
    platform_id: str
    client_task_id: str
    task_type: str
    answer: str
    confidence: float
    answers: int
    confident: bool
    submission_ids: tuple[str, ...]
    unused_task_ids: tuple[str, ...]
    aggregated_at: datetime
