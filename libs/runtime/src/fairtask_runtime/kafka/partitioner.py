"""The producer's partitioner: aiokafka's default (murmur2 of the key, as the Java client, so
every producer of a topic puts a key on the same partition), remembering the hashes of recent
keys. murmur2 is pure Python in aiokafka, about 6 µs a key, and the same keys come back: every
event of a task is keyed by its id (offered, assigned, submitted within seconds), every
submitted task by its pool."""

import functools
from collections.abc import Sequence

from aiokafka.partitioner import DefaultPartitioner, murmur2

_DEFAULT = DefaultPartitioner()


class RecentKeysPartitioner:
    def __init__(self, remembered: int = 8192) -> None:
        self._hash = functools.lru_cache(maxsize=remembered)(murmur2)

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: list[int]
    ) -> int:
        if key is None:
            return int(_DEFAULT(key, all_partitions, available))
        return all_partitions[(int(self._hash(key)) & 0x7FFFFFFF) % len(all_partitions)]
