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
