"""The scheduler keeps the tasks in play and the ids of the latest finished ones, not every task
it ever scheduled: a process runs for weeks."""

from dispatcher.domain.scheduling.policy import TaskSpec
from dispatcher.domain.scheduling.states import LeaseRules, TaskBook, TaskPhase

RULES = LeaseRules(heartbeat_timeout_s=30.0, grace_s=900.0)


def task(task_id: str, deadline_at: float | None = None) -> TaskSpec:
    return TaskSpec(task_id, "label", "lab", 60.0, 0.0, deadline_at=deadline_at)


def test_finished_tasks_are_forgotten_and_only_the_latest_refused_again() -> None:
    book = TaskBook(RULES, finished_kept=2)
    for task_id in ("a", "b", "c"):
        assert book.add(task(task_id))
    book.offer("a", "w-1", until=120.0)
    assert book.lease("a", "w-1", now=1.0)
    assert book.complete("a", "w-1") is not None
    book.cancel("b")
    book.expire("c")

    assert len(book) == 0
    assert book.phase("a") is None
    assert not book.add(task("b"))  # delivered again: still refused
    assert not book.add(task("c"))
    assert book.add(task("a"))  # the oldest of three finished, past the two kept


def test_a_task_added_again_is_not_hit_by_the_timers_of_its_first_life() -> None:
    book = TaskBook(RULES, finished_kept=0)
    book.add(task("a"))
    book.offer("a", "w-1", until=120.0)  # a timer at 120 s
    assert book.lease("a", "w-1", now=1.0)
    book.complete("a", "w-1")

    book.add(task("a"))
    book.offer("a", "w-2", until=500.0)

    assert book.due(200.0) == []  # the first life's offer timer is stale
    assert book.phase("a") is TaskPhase.OFFERED
    assert [t.worker_id for t in book.due(500.0)] == ["w-2"]
