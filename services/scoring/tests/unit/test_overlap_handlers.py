"""Several answers per task, on the in-memory fakes: asking one more, settling, releasing the
aggregate after its answers, agreement into quality, re-runs, races and failed announcements."""

import asyncio
from dataclasses import replace

import pytest
from prometheus_client import REGISTRY

from fairtask_runtime.answers import answer_task_id
from fairtask_runtime.clock import FakeClock
from scoring.adapters.memory import MemoryPorts
from scoring.domain.errors import TaskNotKnownError
from scoring.domain.events import AnswerWanted
from scoring.domain.model import Result, Submission, TaskRecord
from scoring.domain.overlap import OverlapPolicy
from scoring.domain.reviews import RejectionReason
from scoring.service_layer.handlers import (
    AnswerWithdrawn,
    RememberTask,
    ScoreSubmission,
    ScoringHandlers,
)
from scoring.service_layer.overlap import AnswerGiven

# Unknown workers count 0.7: two agreeing yes/no answers are 0.845 sure, a 1-1 split 0.5.
TWO_TO_THREE = OverlapPolicy(min_answers=2, max_answers=3, confidence_target=0.8)
TWO_TO_FOUR = OverlapPolicy(min_answers=2, max_answers=4, confidence_target=0.8)
PARENT = "t-1"


def _task(policy: OverlapPolicy | None, number: int = 1, parent: str = PARENT) -> TaskRecord:
    """The platform's task (number 1) or its copy carrying answer `number`."""
    return TaskRecord(
        answer_task_id(parent, number),
        "p-1",
        "client-1",
        "label",
        overlap=policy,
        answer_of=parent if number > 1 else "",
        answer_number=number if number > 1 else 0,
    )


async def _answer(
    handlers: ScoringHandlers,
    number: int,
    worker: str,
    answer: bytes,
    policy: OverlapPolicy | None = TWO_TO_THREE,
    parent: str = PARENT,
) -> str:
    """Scores `worker`'s answer through copy `number`; returns its submission id."""
    task = _task(policy, number, parent)
    await handlers.remember_task(RememberTask(task))
    sid = f"s-{parent}-{number}-{worker}"
    submission = Submission(sid, task.task_id, worker, answer, region="ke", price_micros=100)
    await handlers.score_submission(ScoreSubmission(submission))
    return sid


async def _released(ports: MemoryPorts) -> list[Result]:
    return [entry.result for entry in await ports.results.read("p-1", "", 100, 0)]


async def test_a_single_answer_task_is_scored_as_before(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _answer(handlers, 1, "w-1", b"yes", policy=None)
    assert ports.overlap_events.wanted == []
    assert ports.overlap_events.aggregated == []
    assert ports.answers.sheets == {}
    [review] = ports.review_events.published
    assert review.overlap_task_id == ""


async def test_the_first_answer_asks_for_the_second(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _answer(handlers, 1, "w-1", b"yes")
    assert ports.overlap_events.wanted == [
        AnswerWanted(PARENT, "p-1", 2, answer_task_id(PARENT, 2), ("w-1",))
    ]
    assert ports.overlap_events.aggregated == []
    assert ports.answers.outbox == {}  # announced


async def test_two_agreeing_answers_settle_with_the_third_copy_unused(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    first = await _answer(handlers, 1, "w-1", b"Yes ")
    second = await _answer(handlers, 2, "w-2", b"yes")
    [aggregated] = ports.overlap_events.aggregated
    # Compared without case or spaces; returned as the first worker spelled it.
    assert (aggregated.task_id, aggregated.answer, aggregated.answers) == (PARENT, "Yes", 2)
    assert aggregated.confident
    assert aggregated.confidence == pytest.approx(0.49 / 0.58)
    assert aggregated.submission_ids == (first, second)
    assert aggregated.unused_task_ids == (answer_task_id(PARENT, 3),)
    assert (aggregated.client_task_id, aggregated.task_type) == ("client-1", "label")
    assert aggregated.aggregated_at == clock.now()
    assert len(ports.overlap_events.wanted) == 1


async def test_a_split_asks_a_third_and_gives_up_at_the_maximum(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _answer(handlers, 1, "w-1", b"yes")
    await _answer(handlers, 2, "w-2", b"no")
    assert [w.answer_number for w in ports.overlap_events.wanted] == [2, 3]
    assert ports.overlap_events.wanted[-1].answered_by == ("w-1", "w-2")
    await _answer(handlers, 3, "w-3", b"yes")
    [aggregated] = ports.overlap_events.aggregated
    assert (aggregated.answer, aggregated.answers, aggregated.confident) == ("yes", 3, False)
    assert aggregated.confidence == pytest.approx(0.7)
    assert aggregated.unused_task_ids == ()
    # An aggregate that missed its target is no yardstick: nobody's quality moves.
    assert ports.quality.agreements == {}


async def test_a_split_settled_with_confidence_counts_agreement_once_per_submission(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _answer(handlers, 1, "w-1", b"yes", TWO_TO_FOUR)
    await _answer(handlers, 2, "w-2", b"no", TWO_TO_FOUR)
    await _answer(handlers, 3, "w-3", b"yes", TWO_TO_FOUR)
    assert [w.answer_number for w in ports.overlap_events.wanted] == [2, 3, 4]
    await _answer(handlers, 4, "w-4", b"yes", TWO_TO_FOUR)
    [aggregated] = ports.overlap_events.aggregated
    assert (aggregated.answer, aggregated.answers, aggregated.confident) == ("yes", 4, True)
    assert aggregated.unused_task_ids == ()
    expected = {
        ("w-1", "p-1", "label"): [1, 0],
        ("w-2", "p-1", "label"): [0, 1],
        ("w-3", "p-1", "label"): [1, 0],
        ("w-4", "p-1", "label"): [1, 0],
    }
    assert ports.quality.agreements == expected
    # Every answer replayed: counted once per submission all the same.
    for number, worker, answer in ((1, "w-1", b"yes"), (2, "w-2", b"no"), (4, "w-4", b"yes")):
        await _answer(handlers, number, worker, answer, TWO_TO_FOUR)
    assert ports.quality.agreements == expected


async def test_quality_estimates_weigh_the_answers(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    # w-good agreed with many settled aggregates; w-bad mostly disagreed.
    ports.quality.agreements[("w-good", "p-1", "label")] = [40, 0]
    ports.quality.agreements[("w-bad", "p-1", "label")] = [0, 40]
    policy = OverlapPolicy(min_answers=2, max_answers=3, confidence_target=0.8)
    await _answer(handlers, 1, "w-good", b"yes", policy)
    await _answer(handlers, 2, "w-bad", b"no", policy)
    # w-bad's quality is below chance and reads as no evidence: w-good's answer stands.
    [aggregated] = ports.overlap_events.aggregated
    assert (aggregated.answer, aggregated.confident) == ("yes", True)


async def test_the_same_worker_answering_twice_counts_once(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _answer(handlers, 1, "w-1", b"yes")
    await _answer(handlers, 2, "w-1", b"yes")  # the dispatcher should never let this happen
    assert [a.worker_id for a in ports.answers.sheets[PARENT].answers] == ["w-1"]
    assert ports.overlap_events.aggregated == []
    assert len(ports.overlap_events.wanted) == 1


async def test_redelivered_and_replayed_answers_publish_nothing_new(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _answer(handlers, 1, "w-1", b"yes")
    await _answer(handlers, 1, "w-1", b"yes")
    assert len(ports.overlap_events.wanted) == 1
    await _answer(handlers, 2, "w-2", b"yes")
    for _ in range(2):
        await _answer(handlers, 1, "w-1", b"yes")
        await _answer(handlers, 2, "w-2", b"yes")
    assert len(ports.overlap_events.wanted) == 1
    assert len(ports.overlap_events.aggregated) == 1
    assert len(ports.review_events.published) == 2


async def test_a_copy_before_its_platform_task_is_retried(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    copy = _task(TWO_TO_THREE, 2)
    await handlers.remember_task(RememberTask(copy))
    submission = Submission("s-early", copy.task_id, "w-2", b"yes")
    with pytest.raises(TaskNotKnownError) as raised:
        await handlers.score_submission(ScoreSubmission(submission))
    assert raised.value.task_id == PARENT
    assert ports.events.published == []


async def test_copies_release_under_the_platform_task_and_the_aggregate_follows_the_last(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    first = await _answer(handlers, 1, "w-1", b"yes")
    second = await _answer(handlers, 2, "w-2", b" YES")
    [_, copy_review] = ports.review_events.published
    # Escrow is held and paid per copy: the review keeps the copy's own id.
    assert copy_review.task_id == answer_task_id(PARENT, 2)
    assert await _released(ports) == []

    await handlers.reviews.approve("p-1", second)
    [copy_result] = await _released(ports)
    assert (copy_result.task_id, copy_result.worker_id, copy_result.answer) == (
        PARENT,
        "w-2",
        b" YES",
    )
    clock.advance(5)
    await handlers.reviews.approve("p-1", first)
    results = await _released(ports)
    assert [(r.submission_id, r.aggregate) for r in results] == [
        (second, False),
        (first, False),
        ("", True),
    ]
    aggregate = results[-1]
    assert (aggregate.task_id, aggregate.client_task_id, aggregate.worker_id) == (
        PARENT,
        "client-1",
        "",
    )
    assert (aggregate.answer, aggregate.answers, aggregate.confident) == (b"yes", 2, True)
    assert aggregate.released_at == clock.now()
    assert ports.answers.awaiting_release == {}

    # Released once, whatever tries again.
    await handlers.overlap.result_released(PARENT)
    assert await handlers.overlap.sweep() == 0
    await _answer(handlers, 2, "w-2", b" YES")
    assert len(await _released(ports)) == 3


async def test_an_aggregate_whose_answers_are_withheld_is_not_released(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    first = await _answer(handlers, 1, "w-1", b"yes")
    await _answer(handlers, 2, "w-2", b"yes")
    await handlers.reviews.approve("p-1", first)
    await handlers.reviews.reject(
        "p-1", f"s-{PARENT}-2-w-2", RejectionReason.WRONG_ANSWER, "x" * 120, keep_result=False
    )
    clock.advance(60)
    await handlers.overlap.sweep()
    assert [r.aggregate for r in await _released(ports)] == [False]
    assert PARENT in ports.answers.awaiting_release


async def test_an_aggregate_settling_after_its_answers_were_released_is_released_at_once(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    task = _task(TWO_TO_THREE)
    for number, worker in ((1, "w-1"), (2, "w-2")):
        sid = f"s-{number}"
        await ports.results.release(
            Result(sid, "p-1", PARENT, "client-1", "label", worker, b"no", clock.now())
        )
        await handlers.overlap.answered(AnswerGiven(task, TWO_TO_THREE, worker, b"no", sid, number))
    results = await _released(ports)
    assert [(r.aggregate, r.answer) for r in results] == [
        (False, b"no"),
        (False, b"no"),
        (True, b"no"),
    ]


async def test_a_lost_release_hint_is_made_good_by_the_sweep(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    first = await _answer(handlers, 1, "w-1", b"yes")
    second = await _answer(handlers, 2, "w-2", b"yes")
    await handlers.reviews.approve("p-1", first)
    real_get = ports.answers.get

    async def unreachable(task_id: str) -> None:
        raise ConnectionError("redis is away")

    ports.answers.get = unreachable  # type: ignore[method-assign]
    await handlers.reviews.approve("p-1", second)  # the approval itself stands
    ports.answers.get = real_get  # type: ignore[method-assign]
    assert [r.aggregate for r in await _released(ports)] == [False, False]
    clock.advance(31)
    assert await handlers.overlap.sweep() == 1
    assert [r.aggregate for r in await _released(ports)] == [False, False, True]


async def test_a_failed_announcement_is_made_by_the_retry_under_the_same_step(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    ports.overlap_events.failing = True
    with pytest.raises(ConnectionError):
        await _answer(handlers, 1, "w-1", b"yes")
    assert ports.answers.sheets[PARENT].pending == "wanted:2"
    ports.overlap_events.failing = False
    await _answer(handlers, 1, "w-1", b"yes")  # the consumer's retry
    assert [w.answer_number for w in ports.overlap_events.wanted] == [2]
    assert ports.answers.sheets[PARENT].pending == ""

    ports.overlap_events.failing = True
    with pytest.raises(ConnectionError):
        await _answer(handlers, 2, "w-2", b"yes")
    assert ports.quality.agreements == {}  # nothing follows a settlement not yet announced
    ports.overlap_events.failing = False
    await _answer(handlers, 2, "w-2", b"yes")
    [aggregated] = ports.overlap_events.aggregated
    assert aggregated.answers == 2
    assert ports.quality.agreements[("w-2", "p-1", "label")] == [1, 0]


async def test_the_sweep_announces_what_no_retry_will(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    ports.overlap_events.failing = True
    with pytest.raises(ConnectionError):
        await _answer(handlers, 1, "w-1", b"yes")
    ports.overlap_events.failing = False
    assert await handlers.overlap.sweep() == 0  # not stale yet
    clock.advance(11)
    assert await handlers.overlap.sweep() == 1
    assert await handlers.overlap.sweep() == 0
    assert [w.answer_number for w in ports.overlap_events.wanted] == [2]


async def test_two_answers_handled_at_once_take_exactly_one_step(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _answer(handlers, 1, "w-1", b"yes", TWO_TO_FOUR)
    # Answer 2 and a replay of answer 1 race; then answers 2 and 3 of another task do.
    await asyncio.gather(
        _answer(handlers, 2, "w-2", b"no", TWO_TO_FOUR),
        _answer(handlers, 1, "w-1", b"yes", TWO_TO_FOUR),
    )
    assert [w.answer_number for w in ports.overlap_events.wanted] == [2, 3]

    task = _task(TWO_TO_FOUR, parent="t-race")
    await asyncio.gather(
        *(
            handlers.overlap.answered(
                AnswerGiven(task, TWO_TO_FOUR, f"w-{n}", b"yes", f"s-race-{n}", n)
            )
            for n in (1, 2)
        )
    )
    # One settlement, announced once: the handler that lost the race leaves it to the winner.
    race = [e for e in ports.overlap_events.aggregated if e.task_id == "t-race"]
    assert [(e.answers, e.answer) for e in race] == [(2, "yes")]
    assert [w for w in ports.overlap_events.wanted if w.task_id == "t-race"] == []
    assert len(ports.answers.sheets["t-race"].answers) == 2


async def test_a_gold_task_never_overlaps(handlers: ScoringHandlers, ports: MemoryPorts) -> None:
    gold = replace(_task(TWO_TO_THREE), gold_answer="yes")
    await handlers.remember_task(RememberTask(gold))
    submission = Submission("s-gold", gold.task_id, "w-1", b"yes")
    await handlers.score_submission(ScoreSubmission(submission))
    assert ports.answers.sheets == {}
    assert ports.overlap_events.wanted == []


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_each_step_is_counted_once_in_the_metrics(handlers: ScoringHandlers) -> None:
    wanted = _sample("fairtask_answers_wanted_total")
    confident = _sample("fairtask_tasks_aggregated_total", {"confident": "true"})
    two_answers = _sample("fairtask_answers_per_aggregated_task_bucket", {"le": "2.0"})
    for _ in range(2):
        await _answer(handlers, 1, "w-1", b"yes", parent="t-metrics")
        await _answer(handlers, 2, "w-2", b"yes", parent="t-metrics")
    assert _sample("fairtask_answers_wanted_total") == wanted + 1
    assert _sample("fairtask_tasks_aggregated_total", {"confident": "true"}) == confident + 1
    assert _sample("fairtask_answers_per_aggregated_task_bucket", {"le": "2.0"}) == two_answers + 1


async def _withdraw(handlers: ScoringHandlers, number: int, parent: str = PARENT) -> None:
    await handlers.answer_withdrawn(AnswerWithdrawn(parent, answer_task_id(parent, number)))


async def test_a_withdrawn_further_answer_settles_the_task_with_the_answers_it_has(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    first = await _answer(handlers, 1, "w-1", b"Yes", TWO_TO_FOUR)
    withdrawn = _sample("fairtask_answers_withdrawn_total")
    await _withdraw(handlers, 2)
    [aggregated] = ports.overlap_events.aggregated
    assert (aggregated.answer, aggregated.answers, aggregated.confident) == ("Yes", 1, False)
    assert aggregated.confidence == pytest.approx(0.7)
    assert aggregated.submission_ids == (first,)
    # The withdrawn copy and those never asked for: their holds are released (again: payroll
    # releases a hold once).
    assert aggregated.unused_task_ids == tuple(answer_task_id(PARENT, n) for n in (2, 3, 4))
    assert ports.answers.sheets[PARENT].settled == aggregated
    assert ports.quality.agreements == {}  # not confident: no yardstick
    assert _sample("fairtask_answers_withdrawn_total") == withdrawn + 1
    # Redelivered: nothing new.
    await _withdraw(handlers, 2)
    assert len(ports.overlap_events.aggregated) == 1
    assert _sample("fairtask_answers_withdrawn_total") == withdrawn + 1


async def test_answers_short_of_the_minimum_settle_unconfident_though_they_reach_the_target(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    # min_answers 3: two agreeing answers (0.845) reach the target, not the platform's minimum.
    three_to_four = OverlapPolicy(min_answers=3, max_answers=4, confidence_target=0.8)
    await _answer(handlers, 1, "w-1", b"yes", three_to_four)
    await _answer(handlers, 2, "w-2", b"yes", three_to_four)
    await _withdraw(handlers, 3)
    [aggregated] = ports.overlap_events.aggregated
    assert (aggregated.answer, aggregated.answers, aggregated.confident) == ("yes", 2, False)
    assert aggregated.confidence == pytest.approx(0.49 / 0.58)
    assert aggregated.unused_task_ids == tuple(answer_task_id(PARENT, n) for n in (3, 4))


async def test_a_withdrawal_the_sheet_does_not_wait_for_changes_nothing(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    # Before any answer: no sheet (the dispatcher says it again when scoring asks for it).
    await handlers.remember_task(RememberTask(_task(TWO_TO_FOUR)))
    await _withdraw(handlers, 2)
    assert ports.answers.sheets == {}
    # Waiting for answer 2: a copy not asked for yet is no reason to settle.
    await _answer(handlers, 1, "w-1", b"yes", TWO_TO_FOUR)
    await _withdraw(handlers, 3)
    assert ports.overlap_events.aggregated == []
    # An unknown task, a task answered once and a gold task: nothing to settle.
    await handlers.answer_withdrawn(AnswerWithdrawn("t-unknown", answer_task_id("t-unknown", 2)))
    await _answer(handlers, 1, "w-1", b"yes", policy=None, parent="t-single")
    await handlers.answer_withdrawn(AnswerWithdrawn("t-single", answer_task_id("t-single", 2)))
    assert ports.overlap_events.aggregated == []
    # Settled already: the late withdrawal changes nothing.
    await _answer(handlers, 2, "w-2", b"yes", TWO_TO_FOUR)
    [aggregated] = ports.overlap_events.aggregated
    await _withdraw(handlers, 3)
    assert ports.overlap_events.aggregated == [aggregated]


async def test_one_withdrawal_delivered_twice_at_once_settles_once(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    # A split asks for answer 3, which is withdrawn; its event is handled twice at once.
    await _answer(handlers, 1, "w-1", b"yes", TWO_TO_FOUR)
    await _answer(handlers, 2, "w-2", b"no", TWO_TO_FOUR)
    await asyncio.gather(_withdraw(handlers, 3), _withdraw(handlers, 3))
    assert len(ports.overlap_events.aggregated) == 1
    assert ports.overlap_events.aggregated[0].answers == 2


async def test_an_answer_waited_for_long_is_asked_for_again_until_it_is_in(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    """A withdrawal whose event was lost (a crash between the cancel and its publish) or went
    by before scoring listened: asked again, the dispatcher says it again."""
    await _answer(handlers, 1, "w-1", b"yes", TWO_TO_FOUR)
    asked_again = _sample("fairtask_answers_asked_again_total")
    clock.advance(9 * 60)
    await handlers.overlap.sweep()
    assert [w.asked_again for w in ports.overlap_events.wanted] == [0]
    clock.advance(2 * 60)
    await handlers.overlap.sweep()
    clock.advance(10 * 60)
    await handlers.overlap.sweep()
    first = ports.overlap_events.wanted[0]
    # Each time its own event (a new id), for the same copy.
    assert ports.overlap_events.wanted == [
        first,
        replace(first, asked_again=1),
        replace(first, asked_again=2),
    ]
    assert _sample("fairtask_answers_asked_again_total") == asked_again + 2
    await _withdraw(handlers, 2)
    clock.advance(10 * 60)
    await handlers.overlap.sweep()
    assert len(ports.overlap_events.wanted) == 3  # settled: asked no more
    assert len(ports.overlap_events.aggregated) == 1


async def test_an_answer_that_came_is_not_asked_for_again(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    await _answer(handlers, 1, "w-1", b"yes", TWO_TO_FOUR)
    await _answer(handlers, 2, "w-2", b"no", TWO_TO_FOUR)  # a split: answer 3 asked for
    clock.advance(11 * 60)
    await _answer(handlers, 3, "w-3", b"yes", TWO_TO_FOUR)  # in just before the sweep
    await handlers.overlap.sweep()
    assert [(w.answer_number, w.asked_again) for w in ports.overlap_events.wanted] == [
        (2, 0),
        (3, 0),
        (4, 0),
    ]
    clock.advance(11 * 60)
    await _answer(handlers, 4, "w-4", b"yes", TWO_TO_FOUR)
    await handlers.overlap.sweep()
    assert all(w.asked_again == 0 for w in ports.overlap_events.wanted)


async def test_an_asked_task_whose_sheet_is_gone_is_no_longer_looked_at(
    handlers: ScoringHandlers, ports: MemoryPorts, clock: FakeClock
) -> None:
    # Its sheet deleted by hand, say: nothing to ask for, and it must not stay first in line.
    await _answer(handlers, 1, "w-1", b"yes", TWO_TO_FOUR)
    (task_id,) = ports.answers.asked_at
    del ports.answers.sheets[task_id]
    clock.advance(11 * 60)
    await handlers.overlap.sweep()
    assert ports.answers.asked_at == {}
    assert [w.asked_again for w in ports.overlap_events.wanted] == [0]
