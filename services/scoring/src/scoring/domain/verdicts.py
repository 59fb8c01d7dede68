"""Scoring a submission: gold tasks are checked against their known answer."""

from datetime import datetime

from scoring.domain.model import Result, Submission, TaskRecord, Verdict


def normalize_answer(text: str) -> str:
    """The form two answers are compared in: no surrounding whitespace, no case.

    `upper()` before `casefold()` because casefold alone keeps the dotless i (U+0131) apart
    from its own upper case "I"; this way every case variant of a string (upper, lower,
    swapped, title) normalizes to the same value.
    """
    return text.strip().upper().casefold()


def verdict_for(task: TaskRecord, answer: bytes) -> Verdict:
    """ACCEPTED for ordinary tasks (platform review comes later); gold tasks pass or fail."""
    if not task.is_gold:
        return Verdict.ACCEPTED
    try:
        text = answer.decode("utf-8")
    except UnicodeDecodeError:
        # The gold answer is valid UTF-8, so bytes that are not can never be equal to it.
        return Verdict.GOLD_FAILED
    if normalize_answer(text) == normalize_answer(task.gold_answer):
        return Verdict.GOLD_PASSED
    return Verdict.GOLD_FAILED


def releases_result(verdict: Verdict) -> bool:
    """Only accepted ordinary work goes to the platform; gold answers it already knows."""
    return verdict is Verdict.ACCEPTED


def result_of(task: TaskRecord, submission: Submission, released_at: datetime) -> Result:
    """The result as its platform sees it. Ownership comes from the task record, which scoring
    took from the platform's own submission, not from the worker-side event."""
    return Result(
        submission_id=submission.submission_id,
        platform_id=task.platform_id,
        task_id=task.task_id,
        client_task_id=task.client_task_id,
        task_type=task.task_type,
        worker_id=submission.worker_id,
        answer=submission.answer,
        released_at=released_at,
    )
