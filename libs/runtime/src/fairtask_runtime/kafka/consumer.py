"""The consume loop every service uses: decode, dedupe, handle, commit after the effect.

Delivery is at-least-once. An offset is committed only after its message's effect is durable
(or the message is in the DLQ); duplicates are skipped by event_id. Transient failures are
retried with backoff and never dead-lettered; only poison messages go to the DLQ.

With a batch handler, each partition's share of a fetch is deduplicated, handled and
remembered in a few round trips instead of a few per message; if the batch holds a poison
message, it is handled again one message at a time (handlers are idempotent), so only that
message goes to the DLQ.

A consumer that stalls is replaced by a new one. After a broker restart aiokafka can lose the
task that refreshes its metadata, and then waits for ever inside a commit (seen under `make
chaos`: a service's consumer stopped for good after a Kafka restart). So a commit that has not
returned within `commit_timeout_s`, or a consumer that has received nothing for `stall_after_s`
while a partition is behind or has had no fetch answered that long, is given up: its
uncommitted offsets are dropped (the messages come again, and handlers are idempotent), the
owner is told its partitions are revoked, the consumer is stopped as far as it will, and a new
one joins the group in its place.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord
from tenacity import AsyncRetrying, retry_if_not_exception_type, wait_exponential

from fairtask.v1 import envelope_pb2
from fairtask_runtime.envelope import PoisonMessageError, decode
from fairtask_runtime.kafka.dedupe import (
    MemoryProcessedEvents,
    ProcessedEvents,
    remember_many,
    seen_many,
)
from fairtask_runtime.kafka.dlq import DeadLetters
from fairtask_runtime.kafka.metadata_task import revive as revive_metadata_task
from fairtask_runtime.metrics import KAFKA_CONSUMERS_REPLACED, KAFKA_LAG, KAFKA_MESSAGES
from fairtask_runtime.settings import ServiceSettings

T = TypeVar("T")

Handler = Callable[[envelope_pb2.Envelope], Awaitable[None]]
# Handles every envelope, in order; raises PoisonMessageError if any cannot be handled.
BatchHandler = Callable[[Sequence[envelope_pb2.Envelope]], Awaitable[None]]

PartitionsCallback = Callable[[set[TopicPartition]], Awaitable[None]]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ConsumerConfig:
    bootstrap: str
    group_id: str
    topics: tuple[str, ...]
    topic_prefix: str = ""
    commit_interval_s: float = 1.0
    max_batch: int = 500
    max_retry_wait_s: float = 5.0
    # A member that stops heartbeating for this long leaves the group and its partitions go
    # to the others (Kafka's defaults; the broker refuses less than its group.min.session).
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    # When the consumer counts as stalled and is replaced (module docstring). A commit takes
    # milliseconds; it waits out a broker restart (seconds) but not this long.
    commit_timeout_s: float = 30.0
    stall_after_s: float = 60.0
    # Between attempts to start a replacement while the broker is away.
    restart_backoff_s: float = 2.0
    # Where a group with no committed offsets starts: "earliest" (the topic's whole
    # retention) or "latest" (only what comes after it joined).
    start_at: Literal["earliest", "latest"] = "earliest"

    @classmethod
    def of_service(
        cls, settings: ServiceSettings, group_id: str, topics: tuple[str, ...], **tuning: Any
    ) -> "ConsumerConfig":
        """A consumer group of a service, on its broker, topic prefix and commit interval;
        `tuning` sets any other field."""
        return cls(
            bootstrap=settings.kafka_bootstrap,
            group_id=group_id,
            topics=topics,
            topic_prefix=settings.topic_prefix,
            commit_interval_s=settings.commit_interval_s,
            **tuning,
        )


@dataclass
class _Offsets:
    pending: dict[TopicPartition, int] = field(default_factory=dict)
    last_commit: float = field(default_factory=time.monotonic)


class EventConsumer:
    """Runs `handler` for each envelope of the subscribed topics until `stop()`."""

    def __init__(
        self,
        config: ConsumerConfig,
        handler: Handler,
        dead_letters: DeadLetters,
        processed: ProcessedEvents | None = None,
        on_assigned: PartitionsCallback | None = None,
        on_revoked: PartitionsCallback | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        self._config = config
        self._handler = handler
        self._batch_handler = batch_handler
        self._dead_letters = dead_letters
        self._processed = processed or MemoryProcessedEvents()
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        self._offsets = _Offsets()
        self._stopping = asyncio.Event()
        # Why the consumer must be replaced ("" while healthy), and since when it has been
        # behind without receiving anything.
        self._stalled = ""
        self._quiet_since: float | None = None
        # The partitions whose lag this consumer exports: removed once they are no longer its
        # own, else a partition handed to another replica would show its last lag for ever.
        self._lag_shown: set[tuple[str, str]] = set()
        # Exported at 0 from the start, so the first replacement is an increase to alert on.
        KAFKA_CONSUMERS_REPLACED.labels(config.group_id)
        # One retrier for every message, used one message at a time (run() handles them in
        # turn): a new one per message left ~30 objects in reference cycles for the garbage
        # collector each time, whose pauses are the tail of every delay at ordinary loads.
        self._retrying = AsyncRetrying(
            retry=retry_if_not_exception_type(PoisonMessageError),
            wait=wait_exponential(multiplier=0.05, max=config.max_retry_wait_s),
            reraise=True,
        )
        self._consumer = self._new_consumer()

    def _new_consumer(self) -> AIOKafkaConsumer:
        config = self._config
        return AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap,
            group_id=config.topic_prefix + config.group_id,
            enable_auto_commit=False,
            auto_offset_reset=config.start_at,
            max_poll_records=config.max_batch,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=config.heartbeat_interval_ms,
        )

    @property
    def kafka(self) -> AIOKafkaConsumer:
        """The current aiokafka consumer (a new one after a stall)."""
        return self._consumer

    async def start(self) -> None:
        await self._consumer.start()
        topics = [self._config.topic_prefix + t for t in self._config.topics]
        self._consumer.subscribe(topics, listener=_Rebalance(self))

    def stop(self) -> None:
        """Asks the loop to finish the message in hand, commit and return."""
        self._stopping.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                revive_metadata_task(self._consumer._client)
                batch = await self._consumer.getmany(
                    timeout_ms=200, max_records=self._config.max_batch
                )
                for tp, records in batch.items():
                    batched = self._batch_handler is not None and len(records) > 1
                    if batched and await self._process_batch(records):
                        self._offsets.pending[tp] = records[-1].offset + 1
                        continue
                    for record in records:
                        if self._stopping.is_set():
                            break
                        if not await self._process(record):
                            break
                        self._offsets.pending[tp] = record.offset + 1
                self._watch_progress(received=bool(batch), suspect=await self._inspect_partitions())
                if time.monotonic() - self._offsets.last_commit >= self._config.commit_interval_s:
                    await self._commit()
                if self._stalled:
                    await self._replace()
        finally:
            await self._commit()
            await self._stop_consumer(self._consumer)
            self._show_lag_of(set())

    def _watch_progress(self, received: bool, suspect: bool) -> None:
        """A consumer that receives nothing although a partition looks stuck (behind, or no
        fetch answered for it lately) for `stall_after_s` has stalled."""
        now = time.monotonic()
        if received or not suspect:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = now
        elif now - self._quiet_since >= self._config.stall_after_s and not self._stalled:
            self._stalled = (
                f"behind or unfetched, nothing received for {self._config.stall_after_s:g} s"
            )

    async def _replace(self) -> None:
        """Gives up the stalled consumer and joins the group again with a new one."""
        group = self._config.group_id
        log.error("the Kafka consumer stalled; replacing it", group=group, reason=self._stalled)
        KAFKA_CONSUMERS_REPLACED.labels(group).inc()
        held = set(self._consumer.assignment())
        # Never committed: these messages come again, to us or to whoever takes them over.
        self._offsets.pending.clear()
        if self._on_revoked and held:
            # First: the partitions may be someone else's long before the old member is gone.
            try:
                await self._on_revoked(held)
            except Exception:
                log.error("on_revoked failed while replacing a consumer", exc_info=True)
        await self._stop_consumer(self._consumer)
        self._show_lag_of(set())
        self._stalled, self._quiet_since = "", None
        while not self._stopping.is_set():
            self._consumer = self._new_consumer()
            try:
                await self.start()
                return
            except KafkaError:
                log.warning("a new Kafka consumer could not start yet", group=group, exc_info=True)
                await self._stop_consumer(self._consumer)
                await asyncio.sleep(self._config.restart_backoff_s)

    async def _stop_consumer(self, consumer: AIOKafkaConsumer) -> None:
        """Stops it, or as far as it gets in `commit_timeout_s`: a stalled one may never
        finish leaving its group (the broker then drops it after the session timeout)."""
        try:
            await asyncio.wait_for(consumer.stop(), self._config.commit_timeout_s)
        except (asyncio.CancelledError, TimeoutError, KafkaError) as error:
            if isinstance(error, asyncio.CancelledError):
                # One of its stuck tasks, cancelled on its way out, unless we are the one
                # being cancelled.
                _reraise_if_cancelling()
            log.warning("a Kafka consumer did not stop cleanly", exc_info=True)
            await abandon(consumer)

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Handles one record; False only when stopping interrupted a retry."""
        try:
            envelope = decode(record.value)
        except PoisonMessageError as exc:
            await self._dead_letter(record, exc)
            return True
        # The store of handled events is asked and told inside the retries: while it is
        # unreachable (a Redis restart) the message waits instead of killing the consumer.
        try:
            async for attempt in self._retrying:
                with attempt:
                    if self._stopping.is_set() and attempt.retry_state.attempt_number > 1:
                        return False
                    if await self._recall(record.topic, self._processed.seen(envelope.event_id)):
                        KAFKA_MESSAGES.labels(record.topic, "duplicate").inc()
                        return True
                    await self._handle_once(record, envelope)
                    await self._recall(record.topic, self._processed.remember(envelope.event_id))
        except PoisonMessageError as exc:
            await self._dead_letter(record, exc)
            return True
        self._dead_letters.record_ok()
        KAFKA_MESSAGES.labels(record.topic, "handled").inc()
        return True

    async def _process_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> bool:
        """Handles a partition's records together; False when they must be handled one at a
        time instead (one is poison, or stopping interrupted a retry)."""
        assert self._batch_handler is not None
        try:
            envelopes = [decode(record.value) for record in records]
        except PoisonMessageError:
            return False
        topic = records[0].topic
        ids = [e.event_id for e in envelopes]
        fresh: list[envelope_pb2.Envelope] = []
        try:
            async for attempt in self._retrying:
                with attempt:
                    if self._stopping.is_set() and attempt.retry_state.attempt_number > 1:
                        return False
                    seen = await self._recall(topic, seen_many(self._processed, ids))
                    fresh = [e for e, done in zip(envelopes, seen, strict=True) if not done]
                    try:
                        await self._batch_handler(fresh)
                    except PoisonMessageError:
                        raise
                    except Exception:
                        KAFKA_MESSAGES.labels(topic, "retried").inc(len(fresh))
                        log.warning("batch handler failed, retrying", topic=topic, exc_info=True)
                        raise
                    await self._recall(
                        topic, remember_many(self._processed, [e.event_id for e in fresh])
                    )
        except PoisonMessageError:
            return False
        for _ in fresh:
            self._dead_letters.record_ok()
        KAFKA_MESSAGES.labels(topic, "duplicate").inc(len(envelopes) - len(fresh))
        KAFKA_MESSAGES.labels(topic, "handled").inc(len(fresh))
        return True

    async def _recall(self, topic: str, call: Awaitable[T]) -> T:
        """A call to the store of handled events; its failure is logged and retried."""
        try:
            return await call
        except Exception:
            log.warning("the store of handled events failed, retrying", topic=topic, exc_info=True)
            raise

    async def _handle_once(
        self, record: ConsumerRecord[bytes, bytes], envelope: envelope_pb2.Envelope
    ) -> None:
        try:
            await self._handler(envelope)
        except PoisonMessageError:
            raise
        except Exception:
            KAFKA_MESSAGES.labels(record.topic, "retried").inc()
            log.warning("handler failed, retrying", topic=record.topic, exc_info=True)
            raise

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> None:
        log.error("poison message to DLQ", topic=record.topic, offset=record.offset, error=str(exc))
        KAFKA_MESSAGES.labels(record.topic, "dead_lettered").inc()
        await self._dead_letters.send(record, f"{type(exc).__name__}: {exc}")

    async def _commit(self, only: Iterable[TopicPartition] | None = None) -> None:
        pending = self._offsets.pending
        chosen = set(only) if only is not None else set(pending)
        offsets = {tp: pending.pop(tp) for tp in chosen if tp in pending}
        if offsets and not self._stalled:
            try:
                # asyncio.timeout rather than wait_for: no task of its own on every commit.
                async with asyncio.timeout(self._config.commit_timeout_s):
                    await self._consumer.commit(offsets)
            except TimeoutError:
                # Not raised: this may run inside aiokafka's rebalance callback. The loop
                # replaces the consumer; the offsets are redelivered.
                self._stalled = f"a commit took over {self._config.commit_timeout_s:g} s"
            except CommitFailedError:
                # The group moved these partitions on while this member was silent (paused,
                # partitioned away). Their messages go to the new owner, or back to us on
                # rejoining, and are handled again idempotently; the loop goes on.
                log.warning(
                    "offsets not committed: the group rebalanced; the messages will be redelivered",
                    partitions=sorted(str(tp) for tp in offsets),
                )
        self._offsets.last_commit = time.monotonic()

    async def _inspect_partitions(self) -> bool:
        """Exports each assigned partition's lag. True if any looks stuck: behind its end, or
        without a fetch answered for `stall_after_s` (its end then goes stale too, so a
        consumer caught up when its fetching died would never look behind). Bounded: asking
        for positions waits while the group rebalances, which is no stall."""
        try:
            async with asyncio.timeout(1.0):  # every turn of the loop: no task of its own
                return await self._partitions_suspect()
        except TimeoutError:
            return False

    async def _partitions_suspect(self) -> bool:
        suspect = False
        stale_before_ms = (time.time() - self._config.stall_after_s) * 1000
        assigned = self._consumer.assignment()
        self._show_lag_of({(tp.topic, str(tp.partition)) for tp in assigned})
        for tp in assigned:
            try:
                polled = self._consumer.last_poll_timestamp(tp)
                suspect = suspect or (polled is not None and polled < stale_before_ms)
                end = self._consumer.highwater(tp)
                if end is None:
                    continue
                # The whole fetched batch is processed before the next poll, so position ~
                # done.
                position = await self._consumer.position(tp)
            except (AssertionError, IllegalStateError):
                continue  # revoked meanwhile
            lag = max(end - position, 0)
            KAFKA_LAG.labels(self._config.group_id, tp.topic, str(tp.partition)).set(lag)
            suspect = suspect or lag > 0
        return suspect

    def _show_lag_of(self, partitions: set[tuple[str, str]]) -> None:
        """Drops the lag of the (topic, partition)s this consumer no longer holds."""
        group = self._config.group_id
        for topic, partition in self._lag_shown - partitions:
            KAFKA_LAG.remove(group, topic, partition)  # a no-op for one never set
        self._lag_shown = partitions


def _reraise_if_cancelling() -> None:
    """Inside `except CancelledError`: re-raises if the current task itself is being
    cancelled, rather than having awaited something cancelled."""
    current = asyncio.current_task()
    if current is not None and current.cancelling():
        raise


async def abandon(consumer: AIOKafkaConsumer) -> None:
    """The rest of what `stop()` does, once its wait for the stuck coordination task was cut
    short. Above all its heartbeats must end: a member that still heartbeats keeps its
    partitions from the replacement until the broker's rebalance timeout (minutes). These are
    aiokafka's internals (pinned in uv.lock), so each step is best effort."""
    coordinator = getattr(consumer, "_coordinator", None)
    steps = [
        getattr(coordinator, "_stop_heartbeat_task", None),
        getattr(coordinator, "_stop_commit_offsets_refresh_task", None),
        getattr(getattr(consumer, "_fetcher", None), "close", None),
        getattr(getattr(consumer, "_client", None), "close", None),
    ]
    for step in steps:
        if step is None:
            continue
        try:
            await asyncio.wait_for(step(), 5.0)
        except asyncio.CancelledError:
            # The cancelled internal task's own CancelledError, unless this task is the one
            # being cancelled (shutdown).
            _reraise_if_cancelling()
        except Exception:
            log.warning("could not finish closing a stalled Kafka consumer", exc_info=True)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: EventConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Commit what is done before another member takes these partitions over.
        await self._owner._commit(revoked)
        log.info("partitions revoked", partitions=sorted(str(tp) for tp in revoked))
        if self._owner._on_revoked and revoked:
            await self._owner._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned", partitions=sorted(str(tp) for tp in assigned))
        if self._owner._on_assigned and assigned:
            await self._owner._on_assigned(set(assigned))
