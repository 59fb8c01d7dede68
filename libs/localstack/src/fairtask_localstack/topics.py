"""The event topics every stack has, created idempotently (optionally under a per-test prefix)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError, for_code

DLQ_SUFFIX = ".dlq"
PARTITIONS = 12
DLQ_PARTITIONS = 3
REPLICATION_FACTOR = 1

_EVENT_TOPICS = (
    "tasks.submitted",
    "tasks.assigned",
    "tasks.overlap",
    "submissions",
    "submissions.scored",
    "reviews",
    "payroll.entries",
    "workers.presence",
    "workers.onboarding",
    "workers.quality",
)

# Every topic (each event topic and its `.dlq` twin) -> number of partitions.
TOPICS: dict[str, int] = {
    name: partitions
    for topic in _EVENT_TOPICS
    for name, partitions in ((topic, PARTITIONS), (topic + DLQ_SUFFIX, DLQ_PARTITIONS))
}


def topic_names(prefix: str = "") -> list[str]:
    return [prefix + name for name in TOPICS]


async def create_topics(bootstrap: str, prefix: str = "", timeout_s: float = 60.0) -> list[str]:
    """Create every topic in TOPICS, named `prefix + name`, and wait until each partition has
    a leader that answers.

    Idempotent: topics that already exist are left alone (their partition count is not checked).
    Retries retriable broker errors (a controller still electing itself) until `timeout_s`.
    Returns the full names. Raises KafkaError for a non-retriable error, TimeoutError on timeout.
    """
    wanted = {prefix + name: partitions for name, partitions in TOPICS.items()}
    deadline = time.monotonic() + timeout_s
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    # Awaits a metadata round trip; raises KafkaConnectionError if nobody answers.
    await admin.start()
    try:
        pending = dict(wanted)
        while pending:
            response = await admin.create_topics(
                [NewTopic(name, n, REPLICATION_FACTOR) for name, n in pending.items()],
                timeout_ms=15_000,
            )
            retry: dict[str, int] = {}
            for entry in response.topic_errors:
                name, code = entry[0], entry[1]
                error = for_code(code)
                if code == 0 or error is TopicAlreadyExistsError:
                    continue
                if not error.retriable:
                    raise error(f"creating topic {name}: {entry[2:]}")
                retry[name] = pending[name]
            pending = retry
            if pending:
                _check_deadline(deadline, f"topics not created: {sorted(pending)}")
                await asyncio.sleep(0.25)
        await _wait_for_metadata(admin, wanted, deadline)
    finally:
        await admin.close()
    await _wait_for_leaders(bootstrap, wanted, deadline)
    return list(wanted)


async def _wait_for_metadata(
    admin: AIOKafkaAdminClient, topics: dict[str, int], deadline: float
) -> None:
    # Until the broker's metadata shows every partition with a leader.
    while True:
        described = await admin.describe_topics(list(topics))
        ready = {
            t["topic"]
            for t in described
            if t["error_code"] == 0
            and len(t["partitions"]) >= topics[t["topic"]]
            and all(p["leader"] >= 0 for p in t["partitions"])
        }
        if ready >= set(topics):
            return
        _check_deadline(deadline, f"topics created but not listed: {sorted(set(topics) - ready)}")
        await asyncio.sleep(0.05)


async def _wait_for_leaders(bootstrap: str, topics: dict[str, int], deadline: float) -> None:
    # The controller has committed the topics, but the broker lists them in its metadata a
    # moment before it leads their partitions. ListOffsets is answered only by the leader, and
    # the consumer retries it, so once it succeeds a producer will not see NOT_LEADER errors.
    remaining_ms = max(1000, int((deadline - time.monotonic()) * 1000))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=remaining_ms)
    quiet = _HideExpectedRetries(set(topics))
    _FETCHER_LOG.addFilter(quiet)
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for name, n in topics.items() for p in range(n)]
        # Assigning makes the client fetch metadata for these topics now; without it, it
        # learns of them only on its next periodic refresh, seconds later.
        consumer.assign(partitions)
        await consumer.end_offsets(partitions)
    except KafkaTimeoutError as exc:
        raise TimeoutError(f"topics created but without leaders: {sorted(topics)}") from exc
    finally:
        await consumer.stop()
        _FETCHER_LOG.removeFilter(quiet)


_FETCHER_LOG = logging.getLogger("aiokafka.consumer.fetcher")


class _HideExpectedRetries(logging.Filter):
    """Drops the fetcher's NOT_LEADER warnings about our brand-new topics: expected, retried."""

    def __init__(self, topics: set[str]) -> None:
        super().__init__()
        self._topics = topics

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "NotLeaderForPartition" not in message:
            return True
        return not any(f"topic='{topic}'" in message for topic in self._topics)


async def delete_topics(bootstrap: str, names: Iterable[str], timeout_s: float = 30.0) -> None:
    """Delete the named topics, ignoring ones already gone. The broker deletes in the background."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [name for name in names if name in existing]
        if doomed:
            await admin.delete_topics(doomed, timeout_ms=int(timeout_s * 1000))
    finally:
        await admin.close()


async def kafka_answers(bootstrap: str, cluster_id: str | None = None) -> bool:
    """True if a broker (of cluster `cluster_id`, if given) answers metadata. Never raises."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        if cluster_id is not None and cluster.get("cluster_id") != cluster_id:
            return False
        return bool(cluster.get("brokers"))
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()


def _check_deadline(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(what)
