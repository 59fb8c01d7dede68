"""Scoring a submission: gold tasks are checked against their known answer."""

from scoring.domain.model import TaskRecord, Verdict


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
