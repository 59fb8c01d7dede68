"""Kafka for every service: the consume loop, the producer, dead letters, deduplication."""

from fairtask_runtime.kafka import uvloop_writes

# Before any connection exists: the services run on uvloop (see uvloop_writes).
uvloop_writes.install()
