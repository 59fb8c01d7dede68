"""The producer's partitioner puts every key where aiokafka's default (the Java client's) does."""

import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from fairtask_runtime.kafka import partitioner
from fairtask_runtime.kafka.partitioner import RecentKeysPartitioner

PARTITIONS = list(range(12))


@given(st.binary(max_size=64))
def test_any_key_goes_where_the_default_partitioner_puts_it(key: bytes) -> None:
    ours = RecentKeysPartitioner(remembered=4)
    expected = DefaultPartitioner()(key, PARTITIONS, PARTITIONS)
    assert ours(key, PARTITIONS, PARTITIONS) == expected
    assert ours(key, PARTITIONS, PARTITIONS) == expected  # remembered


def test_recent_keys_are_hashed_once_and_old_ones_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed: list[bytes] = []

    def counting(key: bytes) -> int:
        hashed.append(key)
        return murmur2(key)

    monkeypatch.setattr(partitioner, "murmur2", counting)
    ours = RecentKeysPartitioner(remembered=2)
    a, b, c = (str(uuid.uuid4()).encode() for _ in range(3))
    placed = [ours(key, PARTITIONS, PARTITIONS) for key in (a, b, a, b)]
    assert placed[:2] == placed[2:]
    assert hashed == [a, b]
    ours(c, PARTITIONS, PARTITIONS)  # a third key: the least recent, a, is forgotten
    ours(a, PARTITIONS, PARTITIONS)
    assert hashed == [a, b, c, a]


def test_a_key_less_message_goes_to_an_available_partition() -> None:
    assert RecentKeysPartitioner()(None, PARTITIONS, [5]) == 5
