"""Publishing scoring's events as envelopes on their topics."""

from fairtask_runtime.envelope import wrap
from fairtask_runtime.kafka.producer import EventProducer
from scoring.adapters.codec import scored_to_pb
from scoring.domain.events import SubmissionScored

SCORED_TOPIC = "submissions.scored"


class KafkaScoredEvents:
    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def publish(self, event: SubmissionScored) -> None:
        # Keyed by worker so payroll sees each worker's events in order on one partition.
        await self._producer.publish(
            SCORED_TOPIC,
            event.submission.worker_id,
            wrap(scored_to_pb(event), producer="scoring", occurred_at=event.scored_at),
        )
