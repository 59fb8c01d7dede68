"""Dead-letter routing, with a ratio limit so a bad deploy cannot dead-letter everything."""

from collections import deque

from aiokafka.structs import ConsumerRecord

from fairtask_runtime.kafka.producer import EventProducer
from fairtask_runtime.metrics import KAFKA_DLQ


class DlqRatioExceededError(RuntimeError):
    """Too many recent messages were poison: halt instead of dead-lettering the stream."""


class DeadLetters:
    def __init__(
        self, producer: EventProducer, max_ratio: float, window: int = 200, min_samples: int = 20
    ) -> None:
        self._producer = producer
        self._max_ratio = max_ratio
        self._min_samples = min_samples
        self._recent: deque[bool] = deque(maxlen=window)

    def record_ok(self) -> None:
        self._recent.append(False)

    async def send(self, record: ConsumerRecord[bytes, bytes], error: str) -> None:
        """Copies the record to `<topic>.dlq` with the error and origin in its headers."""
        self._recent.append(True)
        poisoned = sum(self._recent)
        if (
            len(self._recent) >= self._min_samples
            and poisoned / len(self._recent) > self._max_ratio
        ):
            raise DlqRatioExceededError(
                f"{poisoned} of the last {len(self._recent)} messages were poison; halting"
            )
        headers = [
            ("error", error.encode()[:4000]),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
        ]
        await self._producer.publish_raw(f"{record.topic}.dlq", record.key, record.value, headers)
        KAFKA_DLQ.labels(record.topic).inc()
