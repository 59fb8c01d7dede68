"""The Kafka entrypoints: envelopes to handlers, poison to the DLQ, retries for the rest."""

import pytest
from prometheus_client import REGISTRY

from fairtask.v1 import events_pb2
from fairtask_runtime.answers import answer_task_id
from fairtask_runtime.envelope import PoisonMessageError, wrap
from scoring.adapters.memory import MemoryPorts
from scoring.domain.errors import TaskNotKnownError
from scoring.domain.overlap import OverlapPolicy
from scoring.entrypoints.consumers import SubmissionScoring, TaskIntake, WithdrawnAnswers
from scoring.service_layer.handlers import ScoringHandlers


def _task(task_id: str = "t-1", gold: str = "", **fields: str) -> events_pb2.TaskSubmitted:
    message = events_pb2.TaskSubmitted(
        task_id=task_id,
        platform_id="p-1",
        client_task_id="c-1",
        task_type="label",
        pool="label/en",
        gold_answer=gold,
    )
    for name, value in fields.items():
        setattr(message, name, value)
    return message


def _submission(
    submission_id: str = "s-1", task_id: str = "t-1", worker_id: str = "w-1", answer: bytes = b"x"
) -> events_pb2.SubmissionReceived:
    return events_pb2.SubmissionReceived(
        submission_id=submission_id,
        task_id=task_id,
        worker_id=worker_id,
        lease_id="l-1",
        region="ke",
        platform_id="p-1",
        client_task_id="c-1",
        task_type="label",
        answer=answer,
        worked_seconds=42,
        effort_seconds=60,
        price_micros=300_000,
    )


def _scored_count(verdict: str) -> float:
    value = REGISTRY.get_sample_value("fairtask_submissions_scored_total", {"verdict": verdict})
    return value or 0.0


def _released_count() -> float:
    return REGISTRY.get_sample_value("fairtask_results_released_total") or 0.0


@pytest.mark.parametrize("missing", ["submission_id", "task_id", "worker_id"])
async def test_a_submission_without_its_ids_is_poison(
    handlers: ScoringHandlers, ports: MemoryPorts, missing: str
) -> None:
    await TaskIntake(handlers)(wrap(_task(), producer="test"))
    message = _submission()
    message.ClearField(missing)
    with pytest.raises(PoisonMessageError, match=missing):
        await SubmissionScoring(handlers)(wrap(message, producer="test"))
    assert ports.events.published == []


async def test_another_event_on_submissions_is_poison(handlers: ScoringHandlers) -> None:
    with pytest.raises(PoisonMessageError):
        await SubmissionScoring(handlers)(wrap(_task(), producer="test"))


@pytest.mark.parametrize("missing", ["task_id", "platform_id"])
async def test_a_task_without_its_ids_is_poison(
    handlers: ScoringHandlers, ports: MemoryPorts, missing: str
) -> None:
    message = _task()
    message.ClearField(missing)
    with pytest.raises(PoisonMessageError, match=missing):
        await TaskIntake(handlers)(wrap(message, producer="test"))
    assert ports.tasks.tasks == {}


async def test_another_event_on_tasks_is_poison(handlers: ScoringHandlers) -> None:
    with pytest.raises(PoisonMessageError):
        await TaskIntake(handlers)(wrap(_submission(), producer="test"))


async def test_a_submission_before_its_task_is_retried_not_dead_lettered(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    envelope = wrap(_submission(), producer="test")
    with pytest.raises(TaskNotKnownError):
        await SubmissionScoring(handlers)(envelope)
    await TaskIntake(handlers)(wrap(_task(), producer="test"))
    await SubmissionScoring(handlers)(envelope)
    assert [e.submission.submission_id for e in ports.events.published] == ["s-1"]


async def test_the_same_envelope_twice_is_scored_counted_and_reviewed_once(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    accepted, released = _scored_count("accepted"), _released_count()
    await TaskIntake(handlers)(wrap(_task(), producer="test"))
    envelope = wrap(_submission(answer=b"label: cat"), producer="test")
    await SubmissionScoring(handlers)(envelope)
    await SubmissionScoring(handlers)(envelope)

    [event] = ports.events.published
    assert event.submission.worked_seconds == 42
    assert event.submission.price_micros == 300_000
    assert list(ports.reviews.reviews) == ["s-1"]
    assert _scored_count("accepted") == accepted + 1
    # Released only once its platform approves it.
    assert _released_count() == released
    await handlers.reviews.approve("p-1", "s-1")
    assert len(await ports.results.read("p-1", "", 10, 0)) == 1
    assert _released_count() == released + 1


async def test_gold_verdicts_are_counted_by_verdict(handlers: ScoringHandlers) -> None:
    passed, failed = _scored_count("gold_passed"), _scored_count("gold_failed")
    released = _released_count()
    await TaskIntake(handlers)(wrap(_task("g-1", gold="yes"), producer="test"))
    await SubmissionScoring(handlers)(
        wrap(_submission("s-1", "g-1", answer=b" YES "), producer="test")
    )
    await SubmissionScoring(handlers)(
        wrap(_submission("s-2", "g-1", answer=b"no"), producer="test")
    )
    assert _scored_count("gold_passed") == passed + 1
    assert _scored_count("gold_failed") == failed + 1
    assert _released_count() == released


def _overlapping(**overlap: float) -> events_pb2.TaskSubmitted:
    message = _task("t-o")
    message.overlap.CopyFrom(events_pb2.Overlap(**overlap))  # type: ignore[arg-type]
    return message


async def test_a_task_remembers_its_overlap_and_a_copy_what_it_answers(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await TaskIntake(handlers)(
        wrap(_overlapping(min_answers=2, max_answers=3, confidence_target=0.9), producer="test")
    )
    task = ports.tasks.tasks["t-o"]
    assert task.overlap == OverlapPolicy(2, 3, 0.9, answer_classes=2)
    copy = _task("t-o-2")
    copy.answer_of, copy.answer_number = "t-o", 2
    copy.answered_by.append("w-1")
    await TaskIntake(handlers)(wrap(copy, producer="test"))
    remembered = ports.tasks.tasks["t-o-2"]
    assert (remembered.answer_of, remembered.answer_number, remembered.overlap) == ("t-o", 2, None)
    await TaskIntake(handlers)(wrap(_task("t-single"), producer="test"))
    assert ports.tasks.tasks["t-single"].overlap is None


async def test_unset_overlap_counts_read_as_their_least_and_the_maximum_is_capped(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await TaskIntake(handlers)(
        wrap(_overlapping(max_answers=50, confidence_target=0.9, answer_classes=5), "test")
    )
    assert ports.tasks.tasks["t-o"].overlap == OverlapPolicy(1, 10, 0.9, answer_classes=5)


async def test_a_gold_task_drops_its_overlap(handlers: ScoringHandlers, ports: MemoryPorts) -> None:
    message = _overlapping(min_answers=2, max_answers=3, confidence_target=0.9)
    message.gold_answer = "yes"
    await TaskIntake(handlers)(wrap(message, producer="test"))
    assert ports.tasks.tasks["t-o"].overlap is None


@pytest.mark.parametrize("target", [0.0, 0.3, 1.0])
async def test_an_overlap_no_policy_can_follow_is_poison(
    handlers: ScoringHandlers, ports: MemoryPorts, target: float
) -> None:
    message = _overlapping(min_answers=2, max_answers=3, confidence_target=target)
    with pytest.raises(PoisonMessageError, match="confidence_target"):
        await TaskIntake(handlers)(wrap(message, producer="test"))
    assert ports.tasks.tasks == {}


async def _scored_answer_to_an_overlapping_task(handlers: ScoringHandlers) -> None:
    """Task t-o (2 to 3 answers) answered once: the sheet waits for answer 2."""
    await TaskIntake(handlers)(
        wrap(_overlapping(min_answers=2, max_answers=3, confidence_target=0.9), producer="test")
    )
    await SubmissionScoring(handlers)(wrap(_submission(task_id="t-o"), producer="test"))


async def test_a_withdrawn_further_answer_settles_its_task(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _scored_answer_to_an_overlapping_task(handlers)
    assert ports.overlap_events.aggregated == []
    withdrawn = events_pb2.TaskCancelled(
        task_id=answer_task_id("t-o", 2),
        platform_id="p-1",
        reason="deadline passed",
        answer_of="t-o",
    )
    await WithdrawnAnswers(handlers).batch([wrap(withdrawn, producer="test")])
    [aggregated] = ports.overlap_events.aggregated
    assert (aggregated.task_id, aggregated.answers, aggregated.confident) == ("t-o", 1, False)


async def test_the_assignment_topics_other_events_are_skipped(
    handlers: ScoringHandlers, ports: MemoryPorts
) -> None:
    await _scored_answer_to_an_overlapping_task(handlers)
    others = [
        events_pb2.TaskCancelled(task_id="t-o", platform_id="p-1", reason="withdrawn"),
        events_pb2.OfferClosed(offer_id="o-1", task_id=answer_task_id("t-o", 2), worker_id="w-2"),
    ]
    await WithdrawnAnswers(handlers).batch([wrap(m, producer="test") for m in others])
    assert ports.overlap_events.aggregated == []


async def test_a_withdrawn_answer_without_its_task_id_is_poison(handlers: ScoringHandlers) -> None:
    message = events_pb2.TaskCancelled(platform_id="p-1", reason="withdrawn", answer_of="t-o")
    with pytest.raises(PoisonMessageError, match="task_id"):
        await WithdrawnAnswers(handlers)(wrap(message, producer="test"))
