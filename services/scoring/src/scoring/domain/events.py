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
