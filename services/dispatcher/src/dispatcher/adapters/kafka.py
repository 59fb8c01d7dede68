"""Publishing the dispatcher's domain events as envelopes on their topics."""

from collections.abc import Awaitable, Callable, Sequence

import structlog
from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2
from google.protobuf.message import Message

from dispatcher.adapters.codec import task_to_pb, to_timestamp
from dispatcher.domain import events
from dispatcher.service_layer.ports import RecordedEvent
from fairtask.v1 import events_pb2
from fairtask_runtime.envelope import wrap
from fairtask_runtime.kafka.producer import EventProducer

log = structlog.get_logger(__name__)

_OUTCOMES = {
    events.OfferOutcome.DECLINED: events_pb2.OFFER_OUTCOME_DECLINED,
    events.OfferOutcome.EXPIRED: events_pb2.OFFER_OUTCOME_EXPIRED,
    events.OfferOutcome.WITHDRAWN: events_pb2.OFFER_OUTCOME_WITHDRAWN,
}


class KafkaEventPublisher:
    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def publish(self, event: events.Event) -> None:
        topic, key, payload = _route(event)
        await self._producer.publish(topic, key, wrap(payload, producer="dispatcher"))

    async def publish_recorded(self, recorded: Sequence[RecordedEvent]) -> None:
        items = []
        for item in recorded:
            topic, key, payload = _route(item.event)
            envelope = wrap(payload, "dispatcher", occurred_at=item.at, event_id=item.event_id)
            items.append((topic, key, envelope))
        await self._producer.publish_many(items)

    async def publish_many(self, batch: Sequence[events.Event]) -> None:
        routed = [_route(event) for event in batch]
        await self._producer.publish_many(
            [(topic, key, wrap(payload, producer="dispatcher")) for topic, key, payload in routed]
        )


def pool_partition(pool: str, partitions: int) -> int:
    """The partition of tasks.submitted a pool's tasks go to: the producer's default
    partitioner (murmur2 of the key, as in the Java client)."""
    return int(murmur2(pool.encode()) & 0x7FFFFFFF) % partitions


Own = Callable[[frozenset[int], Callable[[str], int]], Awaitable[None]]


class PoolOwnership:
    """Turns the consumer group's assignment of tasks.submitted partitions into the pools this
    replica owns: `pause` when partitions are revoked, `own` when they are assigned."""

    def __init__(
        self,
        topic: str,
        pause: Callable[[], Awaitable[None]],
        own: Own,
        partitions_of: Callable[[str], set[int] | None],
    ) -> None:
        self._topic = topic
        self._pause = pause
        self._own = own
        self._partitions_of = partitions_of

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        await self._pause()

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        count = len(self._partitions_of(self._topic) or ())
        owned = frozenset(tp.partition for tp in partitions if tp.topic == self._topic)
        if not count:
            log.error("no partition count for the topic; scheduling no pools", topic=self._topic)
            return
        await self._own(owned, lambda pool: pool_partition(pool, count))


def _route(event: events.Event) -> tuple[str, str, Message]:
    match event:
        case events.TaskSubmitted(task):
            return "tasks.submitted", task.pool, task_to_pb(task)
        case events.TaskOffered(offer, region):
            return (
                "tasks.assigned",
                offer.task.task_id,
                events_pb2.TaskOffered(
                    offer_id=offer.offer_id,
                    task_id=offer.task.task_id,
                    worker_id=offer.worker_id,
                    region=region,
                    expires_at=to_timestamp(offer.expires_at),
                ),
            )
        case events.OfferClosed(offer_id, task_id, worker_id, outcome):
            return (
                "tasks.assigned",
                task_id,
                events_pb2.OfferClosed(
                    offer_id=offer_id,
                    task_id=task_id,
                    worker_id=worker_id,
                    outcome=_OUTCOMES[outcome],
                ),
            )
        case events.TaskAssigned(lease):
            return (
                "tasks.assigned",
                lease.task.task_id,
                events_pb2.TaskAssigned(
                    lease_id=lease.lease_id,
                    task_id=lease.task.task_id,
                    worker_id=lease.worker_id,
                    region=lease.region,
                    offer_id=lease.offer_id,
                    leased_at=to_timestamp(lease.leased_at),
                ),
            )
        case events.LeaseReleased(lease, worked_seconds, reason):
            return (
                "tasks.assigned",
                lease.task.task_id,
                events_pb2.LeaseReleased(
                    lease_id=lease.lease_id,
                    task_id=lease.task.task_id,
                    worker_id=lease.worker_id,
                    region=lease.region,
                    platform_id=lease.task.platform_id,
                    task_type=lease.task.task_type.name,
                    worked_seconds=worked_seconds,
                    reason=reason,
                ),
            )
        case events.TaskCancelled(task_id, platform_id, reason, answer_of):
            return (
                "tasks.assigned",
                task_id,
                events_pb2.TaskCancelled(
                    task_id=task_id, platform_id=platform_id, reason=reason, answer_of=answer_of
                ),
            )
        case events.SubmissionReceived(submission_id, lease, answer, worked, submitted_at):
            task = lease.task
            return (
                "submissions",
                task.task_id,
                events_pb2.SubmissionReceived(
                    submission_id=submission_id,
                    task_id=task.task_id,
                    lease_id=lease.lease_id,
                    worker_id=lease.worker_id,
                    region=lease.region,
                    platform_id=task.platform_id,
                    client_task_id=task.client_task_id,
                    task_type=task.task_type.name,
                    answer=answer,
                    worked_seconds=worked,
                    effort_seconds=task.task_type.effort_seconds,
                    price_micros=task.task_type.price_micros,
                    submitted_at=to_timestamp(submitted_at),
                ),
            )
        case events.WorkerPresenceChanged(worker_id, region, connected, at):
            status = (
                events_pb2.PRESENCE_STATUS_CONNECTED
                if connected
                else events_pb2.PRESENCE_STATUS_DISCONNECTED
            )
            return (
                "workers.presence",
                worker_id,
                events_pb2.WorkerPresenceChanged(
                    worker_id=worker_id, region=region, status=status, at=to_timestamp(at)
                ),
            )
