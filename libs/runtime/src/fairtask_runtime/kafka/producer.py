"""Publishing envelopes to Kafka with idempotence and full acknowledgement."""

import asyncio
from collections import Counter

from aiokafka import AIOKafkaProducer

from fairtask.v1 import envelope_pb2
from fairtask_runtime.kafka.metadata_task import keep_alive
from fairtask_runtime.kafka.partitioner import RecentKeysPartitioner
from fairtask_runtime.metrics import EVENTS_PUBLISHED


class EventProducer:
    """Publishes envelopes; `publish` returns once the broker has the event durably.

    Idempotence is set explicitly so a retried send never writes a duplicate record.
    """

    def __init__(self, bootstrap: str, topic_prefix: str = "", client_id: str = "fairtask") -> None:
        self._prefix = topic_prefix
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            # Sent at once: every caller waits for the broker (a platform's call, the relay),
            # and under load what arrives while a request is out goes in the next one anyway.
            # Waiting 2 ms cost ~2 ms of submit-to-offer at ordinary rates and gained no
            # throughput when saturated (docs/performance.md, 2026-12-07).
            linger_ms=0,
            request_timeout_ms=15_000,
            partitioner=RecentKeysPartitioner(),
        )
        self._keeper: asyncio.Task[None] | None = None

    def topic(self, name: str) -> str:
        return self._prefix + name

    async def start(self) -> None:
        await self._producer.start()
        self._keeper = asyncio.create_task(keep_alive(self._producer.client))

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
        # flush() then stop(): everything already handed to publish() reaches the broker.
        await self._producer.flush()
        await self._producer.stop()

    async def publish(self, topic: str, key: str, envelope: envelope_pb2.Envelope) -> None:
        await self.publish_raw(
            self.topic(topic), key.encode(), envelope.SerializeToString(), headers=[]
        )
        EVENTS_PUBLISHED.labels(topic).inc()

    async def publish_many(self, items: list[tuple[str, str, envelope_pb2.Envelope]]) -> None:
        """Publishes (topic, key, envelope) items in one round trip; returns when all are
        durable, raises if any is not (the rest may still have been written)."""
        pending = [
            await self._producer.send(
                self.topic(topic), value=envelope.SerializeToString(), key=key.encode()
            )
            for topic, key, envelope in items
        ]
        await asyncio.gather(*pending)
        # Once per topic rather than per event: a label lookup costs more than the increment.
        for topic, count in Counter(topic for topic, _, _ in items).items():
            EVENTS_PUBLISHED.labels(topic).inc(count)

    async def publish_raw(
        self,
        full_topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        # send_and_wait resolves only after acks=all; a failure raises and nothing is committed.
        await self._producer.send_and_wait(full_topic, value=value, key=key, headers=headers)
