"""Series the shared runtime records for every service (Kafka traffic, DLQ, lag)."""

from prometheus_client import Counter, Gauge

KAFKA_MESSAGES = Counter(
    "fairtask_kafka_messages_total",
    "Kafka messages handled by a consumer, by outcome.",
    ["topic", "outcome"],
)
KAFKA_DLQ = Counter(
    "fairtask_kafka_dlq_messages_total",
    "Messages sent to a dead-letter topic.",
    ["topic"],
)
KAFKA_METADATA_TASKS_REVIVED = Counter(
    "fairtask_kafka_metadata_tasks_revived_total",
    "Kafka clients whose metadata task had ended and was started again.",
)
KAFKA_CONSUMERS_REPLACED = Counter(
    "fairtask_kafka_consumers_replaced_total",
    "Kafka consumers given up as stalled (a commit that never returned, or nothing received "
    "while a partition was behind or unfetched) and replaced by a new member of their group.",
    ["group"],
)
KAFKA_LAG = Gauge(
    "fairtask_kafka_consumer_lag_messages",
    "Messages between the consumer group's position and the partition's end, for the "
    "partitions this process holds now.",
    ["group", "topic", "partition"],
)
EVENTS_PUBLISHED = Counter(
    "fairtask_events_published_total",
    "Events acknowledged by Kafka.",
    ["topic"],
)
