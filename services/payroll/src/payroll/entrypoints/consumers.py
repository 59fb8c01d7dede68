"""Kafka events that earn pay, mapped to payroll's commands.

Topics: `reviews` (a SubmissionReviewed step that makes the work paid, approved by the platform
or a deadline, kept despite a rejection, or granted on appeal, pays the task, topped up to the
floor; every other step carries no pay),
`tasks.assigned` (LeaseReleased pays the time worked at the floor; the other lease-life events
carry no pay), `workers.onboarding` (OnboardingCompleted pays the step at the floor) and
`tasks.overlap` (AnswersAggregated releases the holds of the answers a task never needed) and
`tasks.submitted` (a platform's TaskSubmitted confirms the escrow held for the task, which would
otherwise lapse: see `PayrollHandlers.confirm_holds`).
"""

from datetime import UTC, datetime

import structlog

from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_runtime.envelope import PoisonMessageError
from payroll.domain.commands import OnboardingKind, PayForOnboarding, PayForTask, PayForTimeWorked
from payroll.domain.errors import InvalidPostingError
from payroll.service_layer.handlers import PayrollHandlers

log = structlog.get_logger(__name__)

GROUP_ID = "payroll"
TOPICS = ("reviews", "tasks.assigned", "workers.onboarding", "tasks.overlap", "tasks.submitted")

# Valid events on our topics that carry no pay. Anything else is ignored too (see below).
_NO_PAY = frozenset({"task_offered", "task_assigned", "offer_closed", "answer_wanted"})
# A rejection keeps the task's price held through its appeal window (a granted appeal is paid
# from it); an appeal keeps it held until answered; an upheld appeal releases it.


def pay_for_task(event_id: str, reviewed: events_pb2.SubmissionReviewed) -> PayForTask:
    return PayForTask(
        submission_id=reviewed.submission_id,
        task_id=reviewed.task_id,
        worker_id=reviewed.worker_id,
        region=reviewed.region,
        platform_id=reviewed.platform_id,
        task_type=reviewed.task_type,
        price_micros=reviewed.price_micros,
        worked_seconds=reviewed.worked_seconds,
        source_event_id=event_id,
    )


def pay_for_time_worked(event_id: str, released: events_pb2.LeaseReleased) -> PayForTimeWorked:
    return PayForTimeWorked(
        lease_id=released.lease_id,
        task_id=released.task_id,
        worker_id=released.worker_id,
        region=released.region,
        platform_id=released.platform_id,
        task_type=released.task_type,
        worked_seconds=released.worked_seconds,
        source_event_id=event_id,
    )


_ONBOARDING_KINDS = {
    events_pb2.ONBOARDING_KIND_QUALIFICATION: OnboardingKind.QUALIFICATION,
    events_pb2.ONBOARDING_KIND_TRAINING: OnboardingKind.TRAINING,
    events_pb2.ONBOARDING_KIND_INSTRUCTIONS: OnboardingKind.INSTRUCTIONS,
}


def pay_for_onboarding(
    event_id: str, completed: events_pb2.OnboardingCompleted
) -> PayForOnboarding:
    kind = _ONBOARDING_KINDS.get(completed.kind)
    if kind is None:
        raise InvalidPostingError("kind", "must say which onboarding step this was")
    return PayForOnboarding(
        onboarding_id=completed.onboarding_id,
        worker_id=completed.worker_id,
        region=completed.region,
        platform_id=completed.platform_id,
        task_type=completed.task_type,
        kind=kind,
        seconds=completed.seconds,
        source_event_id=event_id,
    )


def appeal_deadline(reviewed: events_pb2.SubmissionReviewed) -> datetime | None:
    """Until when a rejection may be appealed, if it says; InvalidPostingError for a time no
    calendar has (protobuf's range is years 1 to 9999)."""
    if not reviewed.HasField("appeal_until"):
        return None
    try:
        return reviewed.appeal_until.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidPostingError("appeal_until", f"not a valid time: {exc}") from exc


class PayrollConsumer:
    """The EventConsumer handler. Raises PoisonMessageError for an event that can never be
    paid; lets transient failures (ledger or broker down) propagate so they are retried."""

    def __init__(self, handlers: PayrollHandlers) -> None:
        self._handlers = handlers

    async def __call__(self, envelope: envelope_pb2.Envelope) -> None:
        field = envelope.WhichOneof("payload")
        try:
            if field == "submission_reviewed":
                reviewed = envelope.submission_reviewed
                # Paid once per submission (the ledger's source key), whichever step says so.
                if reviewed.paid:
                    await self._handlers.pay_for_task(pay_for_task(envelope.event_id, reviewed))
                elif reviewed.task_id and reviewed.state == events_pb2.REVIEW_STATE_REJECTED:
                    until = appeal_deadline(reviewed)
                    if until is None:
                        await self._handlers.release_hold(reviewed.task_id)
                    else:
                        await self._handlers.hold_through_appeals(reviewed.task_id, until)
                elif reviewed.task_id and reviewed.state == events_pb2.REVIEW_STATE_APPEALED:
                    await self._handlers.hold_through_appeals(reviewed.task_id, None)
                elif reviewed.task_id and reviewed.state == events_pb2.REVIEW_STATE_APPEAL_UPHELD:
                    await self._handlers.release_hold(reviewed.task_id)
            elif field == "task_cancelled":
                if envelope.task_cancelled.task_id:
                    await self._handlers.release_hold(envelope.task_cancelled.task_id)
            elif field == "answers_aggregated":
                # Each answer's copy was held when the task was accepted; those never asked
                # for are free again.
                for task_id in envelope.answers_aggregated.unused_task_ids:
                    if task_id:
                        await self._handlers.release_hold(task_id)
            elif field == "task_submitted":
                submitted = envelope.task_submitted
                # A further answer's copy was held, and so confirmed, with the task itself.
                if submitted.task_id and not submitted.answer_of:
                    await self._handlers.confirm_holds(submitted.task_id)
            elif field == "lease_released":
                await self._handlers.pay_for_time_worked(
                    pay_for_time_worked(envelope.event_id, envelope.lease_released)
                )
            elif field == "onboarding_completed":
                await self._handlers.pay_for_onboarding(
                    pay_for_onboarding(envelope.event_id, envelope.onboarding_completed)
                )
            elif field not in _NO_PAY:
                # A type this version does not know to pay for: new lease events may be added
                # to these topics, and dead-lettering them would halt payroll at the DLQ limit.
                log.warning(
                    "ignoring unexpected event", type=envelope.type, event_id=envelope.event_id
                )
        except InvalidPostingError as exc:
            raise PoisonMessageError(f"{envelope.type} {envelope.event_id}: {exc}") from exc
