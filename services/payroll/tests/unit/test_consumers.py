"""Kafka envelopes mapped to the pay handlers: what is paid, ignored or dead-lettered."""

from datetime import UTC, datetime

import pytest
from google.protobuf.message import Message

from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_runtime.answers import answer_task_ids
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.envelope import PoisonMessageError, wrap
from payroll.adapters.memory import MemoryEntryPublisher, MemoryLedger
from payroll.domain.escrow import TaskHold, deposit_posting
from payroll.domain.model import EntryKind
from payroll.entrypoints.consumers import PayrollConsumer
from payroll.service_layer.handlers import PayrollHandlers
from payroll.service_layer.ports import LedgerUnavailableError


def envelope(payload: Message) -> envelope_pb2.Envelope:
    return wrap(payload, producer="test")


def submission_reviewed(**changes: object) -> events_pb2.SubmissionReviewed:
    message = events_pb2.SubmissionReviewed(
        submission_id="sub-1",
        task_id="task-1",
        worker_id="w-1",
        region="ke",
        platform_id="lab-a",
        task_type="image-bbox",
        state=events_pb2.REVIEW_STATE_APPROVED,
        paid=True,
        price_micros=400_000,
        worked_seconds=90,
    )
    for name, value in changes.items():
        setattr(message, name, value)
    return message


def lease_released(**changes: object) -> events_pb2.LeaseReleased:
    message = events_pb2.LeaseReleased(
        lease_id="lease-1",
        task_id="task-1",
        worker_id="w-1",
        region="ph",
        platform_id="lab-a",
        task_type="image-bbox",
        worked_seconds=1_800,
        reason="disconnect grace expired",
    )
    for name, value in changes.items():
        setattr(message, name, value)
    return message


def onboarding_completed(**changes: object) -> events_pb2.OnboardingCompleted:
    message = events_pb2.OnboardingCompleted(
        onboarding_id="onb-1",
        worker_id="w-1",
        region="ph",
        platform_id="lab-a",
        task_type="image-bbox",
        kind=events_pb2.ONBOARDING_KIND_INSTRUCTIONS,
        seconds=300,
    )
    for name, value in changes.items():
        setattr(message, name, value)
    return message


def rejected_until(seconds: int, nanos: int = 0) -> events_pb2.SubmissionReviewed:
    """A rejection whose appeal window ends at a raw protobuf time, valid or not."""
    message = submission_reviewed(state=events_pb2.REVIEW_STATE_REJECTED, paid=False)
    message.appeal_until.seconds = seconds
    message.appeal_until.nanos = nanos
    return message


@pytest.fixture
def consume(handlers: PayrollHandlers) -> PayrollConsumer:
    return PayrollConsumer(handlers)


async def test_any_verdict_pays_the_task(
    consume: PayrollConsumer, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    event = envelope(submission_reviewed())

    await consume(event)

    posting = ledger.postings["task_pay:sub-1"]
    assert posting.amount_micros == 400_000
    assert posting.source_event_id == event.event_id
    assert [e.entry_id for e in publisher.published] == [posting.entry_id]


async def test_a_new_event_for_the_same_submission_pays_once(
    consume: PayrollConsumer, ledger: MemoryLedger, publisher: MemoryEntryPublisher
) -> None:
    await consume(envelope(submission_reviewed()))
    await consume(envelope(submission_reviewed()))

    assert len(ledger.postings) == 1
    assert len({e.entry_id for e in publisher.published}) == 1


async def test_a_released_lease_pays_the_time_worked(
    consume: PayrollConsumer, ledger: MemoryLedger
) -> None:
    await consume(envelope(lease_released()))

    posting = ledger.postings["time_worked:lease-1"]
    assert posting.kind is EntryKind.TIME_WORKED
    assert posting.amount_micros == 6_000_000  # half an hour at $12/h
    assert posting.paid_seconds == 1_800


@pytest.mark.parametrize(
    "payload",
    [
        # Review steps that owe the worker nothing (yet): opened, rejected, appealed, upheld.
        submission_reviewed(state=events_pb2.REVIEW_STATE_PENDING, paid=False),
        submission_reviewed(state=events_pb2.REVIEW_STATE_REJECTED, paid=False),
        submission_reviewed(state=events_pb2.REVIEW_STATE_APPEALED, paid=False),
        submission_reviewed(state=events_pb2.REVIEW_STATE_APPEAL_UPHELD, paid=False),
        events_pb2.SubmissionScored(submission_id="s", worker_id="w", price_micros=1),
        events_pb2.TaskOffered(offer_id="o", task_id="t", worker_id="w", region="ke"),
        events_pb2.TaskAssigned(lease_id="l", task_id="t", worker_id="w", region="ke"),
        events_pb2.OfferClosed(offer_id="o", task_id="t", worker_id="w"),
        events_pb2.TaskCancelled(task_id="t", platform_id="p"),
        events_pb2.WorkerPresenceChanged(worker_id="w", region="ke"),
    ],
)
async def test_events_without_pay_are_ignored(
    consume: PayrollConsumer,
    ledger: MemoryLedger,
    publisher: MemoryEntryPublisher,
    payload: Message,
) -> None:
    await consume(envelope(payload))

    assert ledger.postings == {}
    assert publisher.published == []


@pytest.mark.parametrize(
    "payload",
    [
        submission_reviewed(worker_id=""),
        submission_reviewed(submission_id=""),
        submission_reviewed(platform_id=""),
        submission_reviewed(price_micros=-1),
        submission_reviewed(price_micros=0),
        submission_reviewed(worker_id="w\x00"),
        lease_released(worker_id=""),
        lease_released(lease_id=""),
        onboarding_completed(kind=events_pb2.ONBOARDING_KIND_UNSPECIFIED),
        onboarding_completed(onboarding_id=""),
        onboarding_completed(worker_id="w\x00"),
        rejected_until(seconds=-(2**63)),  # found by test_fuzz_events: no calendar has it
        rejected_until(seconds=0, nanos=-(2**31)),
    ],
)
async def test_an_event_that_can_never_be_paid_is_poison(
    consume: PayrollConsumer, ledger: MemoryLedger, payload: Message
) -> None:
    with pytest.raises(PoisonMessageError):
        await consume(envelope(payload))
    assert ledger.postings == {}


async def test_onboarding_is_paid_at_the_floor(
    consume: PayrollConsumer, ledger: MemoryLedger
) -> None:
    await consume(envelope(onboarding_completed()))

    [posting] = ledger.postings.values()
    assert (posting.kind, posting.amount_micros, posting.paid_seconds) == (
        EntryKind.ONBOARDING,
        1_000_000,
        300,
    )


async def test_an_unreachable_ledger_is_retried_not_dead_lettered(
    consume: PayrollConsumer, ledger: MemoryLedger
) -> None:
    ledger.unavailable = True
    with pytest.raises(LedgerUnavailableError):
        await consume(envelope(submission_reviewed()))


async def test_a_rejection_keeps_the_price_held_through_the_appeal_window(
    consume: PayrollConsumer, ledger: MemoryLedger
) -> None:
    await ledger.post(
        deposit_posting(
            "lab-a", "d-1", 400_000, "00000000-0000-7000-8000-000000000900", FakeClock().now()
        )
    )
    await ledger.hold("lab-a", [TaskHold("task-1", 400_000)], FakeClock().now())
    rejected = submission_reviewed(state=events_pb2.REVIEW_STATE_REJECTED, paid=False)
    rejected.appeal_until.FromDatetime(datetime(2026, 3, 8, tzinfo=UTC))
    await consume(envelope(rejected))
    assert ledger.holds["task-1"].state == "held"
    assert ledger.holds["task-1"].release_after == datetime(2026, 3, 8, 1, tzinfo=UTC)

    await consume(envelope(submission_reviewed(state=events_pb2.REVIEW_STATE_APPEALED, paid=False)))
    assert ledger.holds["task-1"].release_after is None
    await consume(
        envelope(submission_reviewed(state=events_pb2.REVIEW_STATE_APPEAL_UPHELD, paid=False))
    )
    assert ledger.holds["task-1"].state == "released"


async def test_a_settled_answer_frees_the_holds_of_answers_never_asked_for(
    consume: PayrollConsumer, ledger: MemoryLedger
) -> None:
    now = FakeClock().now()
    await ledger.post(
        deposit_posting("lab-a", "d-1", 1_200_000, "00000000-0000-7000-8000-000000000901", now)
    )
    holds = [TaskHold(f"task-1#{n}", 400_000) for n in (1, 2, 3)]
    await ledger.hold("lab-a", holds, now)
    # Answers 1 and 2 agreed; answer 3 was never needed.
    settled = events_pb2.AnswersAggregated(
        task_id="task-1#1",
        platform_id="lab-a",
        answer="cat",
        answers=2,
        confident=True,
        unused_task_ids=["task-1#3"],
    )
    await consume(envelope(settled))
    await consume(envelope(settled))  # redelivered: nothing more
    assert [ledger.holds[f"task-1#{n}"].state for n in (1, 2, 3)] == [
        "held",
        "held",
        "released",
    ]
    await consume(envelope(events_pb2.AnswerWanted(task_id="task-1#1", answer_number=2)))
    assert ledger.holds["task-1#2"].state == "held"


async def test_a_published_task_confirms_the_holds_of_all_its_answers(
    consume: PayrollConsumer, handlers: PayrollHandlers, ledger: MemoryLedger, clock: FakeClock
) -> None:
    now = clock.now()
    await ledger.post(
        deposit_posting("lab-a", "d-1", 2_000_000, "00000000-0000-7000-8000-000000000902", now)
    )
    copies = answer_task_ids("task-1", 3)
    await handlers.hold_for_tasks(
        "lab-a", [TaskHold(task_id, 400_000) for task_id in [*copies, "task-2"]]
    )
    assert ledger.holds["task-2"].unconfirmed_until == now + handlers.confirm_holds_within
    # A further answer's copy published later confirms nothing of its own.
    await consume(envelope(events_pb2.TaskSubmitted(task_id=copies[1], answer_of="task-1")))
    assert ledger.holds[copies[1]].unconfirmed_until is not None
    published = events_pb2.TaskSubmitted(task_id="task-1", platform_id="lab-a")
    await consume(envelope(published))
    await consume(envelope(published))  # redelivered: nothing more

    clock.advance(handlers.confirm_holds_within.total_seconds())
    assert await handlers.release_due_holds() == 1
    assert [ledger.holds[task_id].state for task_id in [*copies, "task-2"]] == [
        "held",
        "held",
        "held",
        "lapsed",
    ]
