"""The verdict: gold answers compared without case or surrounding whitespace."""

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.domain.model import TaskRecord, Verdict
from scoring.domain.verdicts import normalize_answer, verdict_for

_WHITESPACE = st.text(alphabet=" \t\r\n\u00a0\u2003\u3000", max_size=4)
_CASE_CHANGES = st.sampled_from([str.upper, str.lower, str.swapcase, str.title, str.casefold])
_gold_answers = st.text(min_size=1).filter(lambda s: s.strip() != "")


def _gold(answer: str) -> TaskRecord:
    return TaskRecord("t-1", "p-1", "c-1", "label", gold_answer=answer)


def _vary(text: str, change: Callable[[str], str], before: str, after: str) -> bytes:
    return (before + change(text) + after).encode()


@given(
    task_type=st.text(),
    answer=st.binary(),
)
def test_an_ordinary_task_is_always_accepted(task_type: str, answer: bytes) -> None:
    task = TaskRecord("t-1", "p-1", "c-1", task_type, gold_answer="")
    assert verdict_for(task, answer) is Verdict.ACCEPTED


@given(gold=_gold_answers, change=_CASE_CHANGES, before=_WHITESPACE, after=_WHITESPACE)
def test_the_gold_answer_passes_in_any_case_and_padding(
    gold: str, change: Callable[[str], str], before: str, after: str
) -> None:
    assert verdict_for(_gold(gold), _vary(gold, change, before, after)) is Verdict.GOLD_PASSED


@given(
    gold=_gold_answers,
    answer=st.text(),
    change=_CASE_CHANGES,
    before=_WHITESPACE,
    after=_WHITESPACE,
)
def test_the_verdict_ignores_the_answers_case_and_padding(
    gold: str, answer: str, change: Callable[[str], str], before: str, after: str
) -> None:
    task = _gold(gold)
    assert verdict_for(task, answer.encode()) is verdict_for(
        task, _vary(answer, change, before, after)
    )


@given(gold=_gold_answers, answer=st.text())
def test_a_different_answer_fails(gold: str, answer: str) -> None:
    expected = (
        Verdict.GOLD_PASSED
        if normalize_answer(answer) == normalize_answer(gold)
        else Verdict.GOLD_FAILED
    )
    assert verdict_for(_gold(gold), answer.encode()) is expected


@pytest.mark.parametrize(
    ("gold", "answer", "verdict"),
    [
        ("cat", b"  CAT\n", Verdict.GOLD_PASSED),
        ("Stra\u00dfe", b"STRASSE", Verdict.GOLD_PASSED),
        ("\u0131", b"I", Verdict.GOLD_PASSED),
        ("cat", b"cats", Verdict.GOLD_FAILED),
        ("c a t", b"cat", Verdict.GOLD_FAILED),
        ("cat", b"", Verdict.GOLD_FAILED),
        ("cat", b"\xff\xfe", Verdict.GOLD_FAILED),
    ],
)
def test_gold_examples(gold: str, answer: bytes, verdict: Verdict) -> None:
    assert verdict_for(_gold(gold), answer) is verdict
