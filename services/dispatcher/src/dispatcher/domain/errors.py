"""Domain errors: each carries what a client needs to correct its request."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    field: str
    problem: str


class InvalidInputError(Exception):
    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.problem}" for v in violations))
        self.violations = violations


class NotFoundError(Exception):
    """The thing does not exist, or belongs to someone else (callers cannot tell which)."""


class ConflictError(Exception):
    """The request is valid but the current state does not allow it."""


class AlreadyDoneError(Exception):
    """The request repeats something that already happened (e.g. a second submit)."""
