"""Tasks another replica offered first are remembered for a rebuild, the latest ones only."""

from typing import Any

import pytest
from dispatcher_world import make_task

from dispatcher.service_layer import ownership
from dispatcher.service_layer.ownership import Ownership
from fairtask_runtime.clock import FakeClock


class SpyPolicy:
    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, task: Any, now: float) -> None:
        self.submitted.append(task.task_id)


def test_a_dropped_task_requeued_wants_a_rebuild_until_it_is_long_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ownership, "FINISHED_KEPT", 2)
    policy = SpyPolicy()
    owned = Ownership(None, FakeClock(), lambda: policy, "r-1", True, lambda: None)  # type: ignore[arg-type]
    first, second, third = (make_task(f"c-{n}") for n in range(3))
    for task in (first, second, third):
        owned.dropped(task.task_id)

    owned.requeued(third)  # still remembered: this policy cannot take it back
    assert policy.submitted == []
    owned.requeued(first)  # forgotten, as the policy has forgotten it: submitted again
    assert policy.submitted == [first.task_id]
