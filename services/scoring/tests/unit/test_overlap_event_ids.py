"""A step of a task's answers has one event id however often it is published (consumers drop
the repeats); asking again for an answer is a new step, so the dispatcher acts on it."""

import uuid
from dataclasses import replace

from fairtask_runtime.answers import answer_task_id
from scoring.adapters.kafka import answer_wanted_id
from scoring.domain.events import AnswerWanted

FIRST = AnswerWanted("t-1", "p-1", 2, answer_task_id("t-1", 2), ("w-1",))


def test_the_first_ask_keeps_the_id_it_always_had() -> None:
    """Steps stored before asking again existed are re-announced under the same id."""
    steps = uuid.UUID("4c8a2d9e-6f13-4b70-8e25-0a9d3b7c1f64")
    assert answer_wanted_id(FIRST) == str(uuid.uuid5(steps, "t-1|wanted|2"))


def test_each_ask_again_is_its_own_event() -> None:
    ids = {answer_wanted_id(replace(FIRST, asked_again=n)) for n in range(3)}
    assert len(ids) == 3
    assert answer_wanted_id(replace(FIRST, asked_again=1)) == answer_wanted_id(
        replace(FIRST, asked_again=1)
    )
