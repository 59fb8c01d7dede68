"""Input rules for task types and task batches, reported one violation per problem."""

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.domain.errors import Violation
from dispatcher.domain.model import NewTask, Overlap, TaskType

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_SKILL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Limits:
    max_payload_bytes: int = 64 * 1024
    max_batch: int = 1000
    max_client_id_chars: int = 128
    max_gold_chars: int = 1024
    min_purpose_chars: int = 20
    max_purpose_chars: int = 2000
    max_effort_seconds: int = 8 * 3600
    max_price_micros: int = 1_000_000_000
    max_deadline_ahead: timedelta = timedelta(days=90)
    # Answers to one task of an overlapping type (fairtask_runtime.answers has ids for 10).
    max_answers: int = 10
    # Why a platform cancels: carried in the events it publishes, so bounded like any text.
    max_reason_chars: int = 1000


def task_type_violations(task_type: TaskType, limits: Limits) -> list[Violation]:
    found: list[Violation] = []
    if not _NAME.match(task_type.name):
        found.append(Violation("task_type.name", "must be 1-63 of a-z 0-9 . _ - (lowercase)"))
    purpose = task_type.purpose.strip()
    if len(purpose) < limits.min_purpose_chars:
        found.append(
            Violation(
                "task_type.purpose",
                f"must say who will use the data and for what (at least "
                f"{limits.min_purpose_chars} characters)",
            )
        )
    elif len(purpose) > limits.max_purpose_chars:
        found.append(Violation("task_type.purpose", f"at most {limits.max_purpose_chars} chars"))
    if not 0 < task_type.price_micros <= limits.max_price_micros:
        found.append(
            Violation("task_type.price_micros", f"must be in 1..{limits.max_price_micros}")
        )
    if not 0 < task_type.effort_seconds <= limits.max_effort_seconds:
        found.append(
            Violation("task_type.effort_seconds", f"must be in 1..{limits.max_effort_seconds}")
        )
    for i, skill in enumerate(task_type.skills):
        if not _SKILL.match(skill):
            found.append(Violation(f"task_type.skills[{i}]", "must be 1-32 of a-z 0-9 _ -"))
    if task_type.overlap is not None:
        found += overlap_violations(task_type.overlap, limits.max_answers)
    return found


def overlap_violations(overlap: Overlap, max_answers: int) -> list[Violation]:
    found: list[Violation] = []
    if not 1 <= overlap.min_answers <= max_answers:
        found.append(Violation("task_type.overlap.min_answers", f"must be in 1..{max_answers}"))
    if not overlap.min_answers <= overlap.max_answers <= max_answers:
        found.append(
            Violation("task_type.overlap.max_answers", f"must be in min_answers..{max_answers}")
        )
    # Written so NaN fails too.
    if not 0.5 <= overlap.confidence_target < 1:
        found.append(
            Violation("task_type.overlap.confidence_target", "must be at least 0.5 and below 1")
        )
    if not 2 <= overlap.answer_classes <= 1_000_000:
        found.append(Violation("task_type.overlap.answer_classes", "must be in 2..1000000"))
    return found


def batch_violations(
    tasks: Sequence[NewTask],
    task_types: Mapping[str, TaskType],
    now: datetime,
    limits: Limits,
    repeats: Collection[int] = frozenset(),
) -> list[Violation]:
    """Everything wrong with a batch; an empty list means every task may be accepted.
    `repeats`: the positions of tasks repeating content accepted before (same id, same
    content): their deadline was judged then, and is not judged again by the clock."""
    if not tasks:
        return [Violation("tasks", "at least one task is required")]
    if len(tasks) > limits.max_batch:
        return [Violation("tasks", f"at most {limits.max_batch} tasks per call")]
    found: list[Violation] = []
    seen: set[str] = set()
    for i, task in enumerate(tasks):
        task_type = task_types.get(task.task_type)
        found += _task_violations(f"tasks[{i}]", task, task_type, now, limits, i not in repeats)
        if task.client_task_id in seen:
            found.append(Violation(f"tasks[{i}].client_task_id", "repeated within this batch"))
        seen.add(task.client_task_id)
    return found


def _task_violations(
    at: str,
    task: NewTask,
    task_type: TaskType | None,
    now: datetime,
    limits: Limits,
    judge_deadline: bool,
) -> list[Violation]:
    found: list[Violation] = []
    if not task.client_task_id.strip():
        found.append(Violation(f"{at}.client_task_id", "is required"))
    elif len(task.client_task_id) > limits.max_client_id_chars:
        found.append(
            Violation(f"{at}.client_task_id", f"at most {limits.max_client_id_chars} characters")
        )
    if task_type is None:
        found.append(Violation(f"{at}.task_type", f"unknown task type {task.task_type!r}"))
    if len(task.payload) > limits.max_payload_bytes:
        found.append(Violation(f"{at}.payload", f"larger than {limits.max_payload_bytes} bytes"))
    if len(task.gold_answer) > limits.max_gold_chars:
        found.append(Violation(f"{at}.gold_answer", f"at most {limits.max_gold_chars} chars"))
    if task.deadline is not None and judge_deadline:
        effort = timedelta(seconds=task_type.effort_seconds if task_type else 0)
        if task.deadline <= now:
            found.append(Violation(f"{at}.deadline", "is in the past"))
        elif task.deadline < now + effort:
            found.append(Violation(f"{at}.deadline", "leaves less time than the task's effort"))
        elif task.deadline > now + limits.max_deadline_ahead:
            found.append(Violation(f"{at}.deadline", "more than 90 days ahead"))
    return found


def cancel_violations(reason: str, limits: Limits) -> list[Violation]:
    if len(reason) > limits.max_reason_chars:
        return [Violation("reason", f"at most {limits.max_reason_chars} characters")]
    return []


def fingerprint(task: NewTask) -> str:
    """Identifies a task's content, to tell an idempotent retry from a conflicting reuse of id."""
    digest = hashlib.sha256()
    for part in (
        task.task_type.encode(),
        task.payload,
        (task.deadline.isoformat() if task.deadline else "").encode(),
        task.gold_answer.encode(),
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
