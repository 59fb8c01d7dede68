"""Ids of the copies through which several workers answer one task.

When a task type asks for several answers, the dispatcher offers the task once per answer,
one at a time. Answer 1 is the platform's task itself; each further answer is a copy with
its own deterministic id, so the dispatcher (which holds escrow per copy and queues them),
scoring (which asks for them) and payroll (which pays and releases per copy) name the same
copy without telling each other.
"""

import uuid

_NAMESPACE = uuid.UUID("0b6d3f52-3d43-4bd8-9d3c-2b7f3c1e8a61")
# Hard cap on answers to one task, whatever a task type asks for.
MAX_ANSWERS = 10


def answer_task_id(task_id: str, answer_number: int) -> str:
    """The id of the copy that carries a task's `answer_number`-th answer (1 -> the task)."""
    if not 1 <= answer_number <= MAX_ANSWERS:
        raise ValueError(f"answer_number {answer_number} is not in 1..{MAX_ANSWERS}")
    if answer_number == 1:
        return task_id
    return str(uuid.uuid5(_NAMESPACE, f"{task_id}\x00answer\x00{answer_number}"))


def answer_task_ids(task_id: str, max_answers: int) -> list[str]:
    """Every copy's id, answer 1 (the task) first."""
    return [answer_task_id(task_id, n) for n in range(1, max_answers + 1)]
