"""Live counters shared by the simulated platforms, workers and result watchers."""

from dataclasses import dataclass, field

from fairtask_demo.model import SubmittedTask


@dataclass
class Registry:
    """Tasks this run submitted and results it saw; each field has a single writer kind."""

    tasks: dict[str, SubmittedTask] = field(default_factory=dict)
    submit_failures: int = 0
    submit_call_s: list[float] = field(default_factory=list)
    released: set[str] = field(default_factory=set)
    # Tasks several workers answer: each further answer's copy id -> the platform's task.
    copies: dict[str, str] = field(default_factory=dict)
    # Each task's true label, and the released answers and aggregates (answer, answers,
    # confident) the platforms saw.
    truth: dict[str, str] = field(default_factory=dict)
    answers: dict[str, list[str]] = field(default_factory=dict)
    aggregates: dict[str, tuple[str, int, bool]] = field(default_factory=dict)
    # The first few distinct problems, to print instead of flooding the terminal.
    problems: list[str] = field(default_factory=list)

    def effort_of(self, task_id: str) -> int | None:
        task = self.tasks.get(task_id)
        return task.effort_seconds if task else None

    def note_problem(self, text: str) -> bool:
        """Remembers `text`; True the first time it is seen (so the caller prints it once)."""
        if text in self.problems or len(self.problems) >= 50:
            return False
        self.problems.append(text)
        return True
