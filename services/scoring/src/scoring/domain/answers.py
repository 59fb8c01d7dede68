"""One platform task's answers, when several workers answer it one at a time.

The sheet is what scoring stores per platform task: each worker's answer (one per worker),
how many answers were asked for, and the aggregate once settled. Answer 1 is the task itself;
scoring asks for answer n + 1 only once it holds n answers, so the sheet waits for an answer
exactly while it holds fewer answers than it asked for.
"""

from dataclasses import dataclass

from scoring.domain.aggregation import Label
from scoring.domain.events import AnswersAggregated, AnswerWanted
from scoring.domain.verdicts import normalize_answer


@dataclass(frozen=True)
class GivenAnswer:
    """One worker's answer to a platform task, in the form answers are compared in, and as
    the worker spelled it (what the platform gets back as the aggregate)."""

    worker_id: str
    answer: str
    submission_id: str
    answer_number: int
    spelling: str = ""


@dataclass(frozen=True)
class AnswerSheet:
    task_id: str
    # Ordered by answer number (then worker), the order they were asked for.
    answers: tuple[GivenAnswer, ...]
    # How many answers were asked for so far: 1 (the task itself) until scoring asks more.
    asked: int = 1
    # The last answer asked for, and the aggregate once settled (then nothing changes).
    wanted: AnswerWanted | None = None
    settled: AnswersAggregated | None = None
    # The step stored but not yet durable on Kafka ("wanted:<n>", "aggregated" or "").
    pending: str = ""

    @property
    def waiting(self) -> bool:
        """An answer asked for has not come in yet: nothing to decide until it does."""
        return len(self.answers) < self.asked

    def spelling_of(self, answer: str) -> str:
        """`answer` (compared form) as its first worker spelled it: "label-A", not "label-a"."""
        for given in self.answers:
            if given.answer == answer and given.spelling:
                return given.spelling
        return answer

    def labels(self) -> list[Label]:
        return [Label(self.task_id, a.worker_id, a.answer) for a in self.answers]

    @property
    def workers(self) -> tuple[str, ...]:
        return tuple(a.worker_id for a in self.answers)


def wanted_step(answer_number: int) -> str:
    return f"wanted:{answer_number}"


AGGREGATED_STEP = "aggregated"


def answer_text(answer: bytes) -> str:
    """A submitted answer as it is aggregated: decoded and normalized like gold answers are
    compared. Bytes that are not UTF-8 keep their escapes, so two different ones stay apart."""
    return normalize_answer(spelled(answer))


def spelled(answer: bytes) -> str:
    """A submitted answer as text, as the worker spelled it, surrounding whitespace aside."""
    return answer.decode("utf-8", errors="backslashreplace").strip()


def by_order(answers: list[GivenAnswer]) -> tuple[GivenAnswer, ...]:
    return tuple(sorted(answers, key=lambda a: (a.answer_number, a.worker_id)))
