"""Announcing ledger entries on Kafka, and the consumer's event-id memory."""

from fairtask.v1 import events_pb2
from fairtask_runtime.envelope import wrap
from fairtask_runtime.kafka.producer import EventProducer
from payroll.domain.events import EntryPosted
from payroll.domain.model import EntryKind

TOPIC = "payroll.entries"
PRODUCER = "payroll"

ENTRY_KINDS = {
    EntryKind.TASK_PAY: events_pb2.ENTRY_KIND_TASK_PAY,
    EntryKind.TIME_WORKED: events_pb2.ENTRY_KIND_TIME_WORKED,
    EntryKind.TOP_UP: events_pb2.ENTRY_KIND_TOP_UP,
    EntryKind.ONBOARDING: events_pb2.ENTRY_KIND_ONBOARDING,
    EntryKind.PAYOUT: events_pb2.ENTRY_KIND_PAYOUT,
}


def to_proto(event: EntryPosted) -> events_pb2.PayrollEntryPosted:
    return events_pb2.PayrollEntryPosted(
        entry_id=event.entry_id,
        worker_id=event.worker_id,
        region=event.region,
        kind=ENTRY_KINDS[event.kind],
        amount_micros=event.amount_micros,
        paid_seconds=event.paid_seconds,
        source_event_id=event.source_event_id,
    )


class KafkaEntryPublisher:
    """Publishes to `payroll.entries`, keyed by worker so one worker's entries stay ordered."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def publish(self, event: EntryPosted) -> None:
        # The envelope's event_id is the entry id (a UUIDv7 too): announcing the same entry
        # again is a redelivery of the same event, so event_id dedupe downstream also works.
        envelope = wrap(
            to_proto(event),
            producer=PRODUCER,
            occurred_at=event.posted_at,
            event_id=event.entry_id,
        )
        await self._producer.publish(TOPIC, event.worker_id, envelope)


class LedgerDeduplicates:
    """The consumer's ProcessedEvents port, answering "never seen".

    The ledger's UNIQUE source_key already makes every handler idempotent, and handling a
    duplicate must re-announce its entry anyway (see PayrollHandlers._post). The runtime's
    default in-memory set would add nothing but unbounded growth.
    """

    async def seen(self, event_id: str) -> bool:
        return False

    async def remember(self, event_id: str) -> None:
        return None
