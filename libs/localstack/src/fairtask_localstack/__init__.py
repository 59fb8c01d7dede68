"""Real local servers (Kafka in KRaft mode, Redis, PostgreSQL) on loopback, for `make` and tests.

Importing this package starts nothing; `Stack.start()` does, and `Stack.stop()` undoes it.
"""

from fairtask_localstack.endpoints import Endpoints
from fairtask_localstack.ports import Ports
from fairtask_localstack.process import StackError
from fairtask_localstack.stack import Stack, endpoints_answer
from fairtask_localstack.topics import TOPICS, create_topics, delete_topics, topic_names

__all__ = [
    "TOPICS",
    "Endpoints",
    "Ports",
    "Stack",
    "StackError",
    "create_topics",
    "delete_topics",
    "endpoints_answer",
    "topic_names",
]
