"""One contract for the stores, run against the in-memory fakes and against real Redis."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as redis

from scoring.adapters.memory import (
    MemoryQualityBook,
    MemoryResultLog,
    MemoryScoreMarks,
    MemoryTaskBook,
)
from scoring.adapters.redis_quality import RedisQualityBook
from scoring.adapters.redis_store import RedisResultLog, RedisScoreMarks, RedisTaskBook
from scoring.domain.errors import InvalidCursorError
from scoring.domain.model import Result, TaskRecord, Verdict
from scoring.domain.overlap import OverlapPolicy
from scoring.service_layer.ports import (
    QualityBook,
    QualityTally,
    ResultLog,
    ScoreMarks,
    TaskBook,
)

AT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)


@dataclass
class Stores:
    tasks: TaskBook
    marks: ScoreMarks
    results: ResultLog
    quality: QualityBook


def _result(sid: str, platform_id: str = "p-1", answer: bytes = b"yes") -> Result:
    return Result(sid, platform_id, f"t-{sid}", f"c-{sid}", "label", "w-1", answer, AT)


class StoreContract:
    @pytest.fixture
    def stores(self) -> Any:
        raise NotImplementedError

    async def test_a_task_is_remembered_once_and_first_write_wins(self, stores: Stores) -> None:
        task = TaskRecord("t-1", "p-1", "c-\u00e9", "label", gold_answer="Gr\u00fc\u00df")
        assert await stores.tasks.get("t-1") is None
        assert await stores.tasks.remember(task)
        assert not await stores.tasks.remember(TaskRecord("t-1", "p-2", "x", "y"))
        assert await stores.tasks.get("t-1") == task

    async def test_a_task_keeps_its_overlap_and_copy_fields(self, stores: Stores) -> None:
        policy = OverlapPolicy(2, 5, 0.85, answer_classes=4, unknown_worker_quality=0.6)
        task = TaskRecord(
            "t-c", "p-1", "c", "label", overlap=policy, answer_of="t-p", answer_number=3
        )
        await stores.tasks.remember(task)
        assert await stores.tasks.get("t-c") == task

    async def test_a_task_without_gold_stays_without_gold(self, stores: Stores) -> None:
        await stores.tasks.remember(TaskRecord("t-2", "p-1", "c", "label"))
        found = await stores.tasks.get("t-2")
        assert found is not None
        assert not found.is_gold

    async def test_scored_marks_are_idempotent(self, stores: Stores) -> None:
        assert not await stores.marks.is_scored("s-1")
        await stores.marks.mark_scored("s-1", Verdict.ACCEPTED)
        await stores.marks.mark_scored("s-1", Verdict.ACCEPTED)
        assert await stores.marks.is_scored("s-1")
        assert not await stores.marks.is_scored("s-2")

    async def test_a_submission_is_released_once(self, stores: Stores) -> None:
        assert await stores.results.release(_result("s-1"))
        assert not await stores.results.release(_result("s-1", answer=b"changed"))
        entries = await stores.results.read("p-1", "", 10, 0)
        assert [e.result for e in entries] == [_result("s-1")]

    async def test_an_aggregate_is_released_once_per_task_and_round_trips(
        self, stores: Stores
    ) -> None:
        aggregate = Result(
            "", "p-1", "t-1", "c-1", "label", "", b"yes", AT, True, 0.8448275862068966, 2, True
        )
        assert await stores.results.release(aggregate)
        assert not await stores.results.release(replace(aggregate, answer=b"no"))
        # Its release key is its task's, apart from any submission's.
        assert await stores.results.release(_result("t-1"))
        entries = await stores.results.read("p-1", "", 10, 0)
        assert [e.result for e in entries] == [aggregate, _result("t-1")]

    async def test_all_released_is_true_only_once_every_submission_is(self, stores: Stores) -> None:
        assert await stores.results.all_released([])
        await stores.results.release(_result("s-1"))
        assert await stores.results.all_released(["s-1"])
        assert not await stores.results.all_released(["s-1", "s-2"])
        await stores.results.release(_result("s-2"))
        assert await stores.results.all_released(["s-2", "s-1"])

    async def test_results_round_trip_exactly(self, stores: Stores) -> None:
        result = _result("s-1", answer=b"\xff\x00 not utf-8")
        await stores.results.release(result)
        [entry] = await stores.results.read("p-1", "", 10, 0)
        assert entry.result == result
        assert entry.result.released_at.utcoffset() == timedelta(0)

    async def test_reading_resumes_after_a_cursor_in_order(self, stores: Stores) -> None:
        for i in range(5):
            await stores.results.release(_result(f"s-{i}"))
        head = await stores.results.read("p-1", "", 2, 0)
        assert [e.result.submission_id for e in head] == ["s-0", "s-1"]
        rest = await stores.results.read("p-1", head[-1].cursor, 10, 0)
        assert [e.result.submission_id for e in rest] == ["s-2", "s-3", "s-4"]
        assert await stores.results.read("p-1", rest[-1].cursor, 10, 0) == []

    async def test_each_platform_reads_only_its_own_log(self, stores: Stores) -> None:
        await stores.results.release(_result("s-a", platform_id="p-a"))
        await stores.results.release(_result("s-b", platform_id="p-b"))
        entries = await stores.results.read("p-a", "", 10, 0)
        assert [e.result.submission_id for e in entries] == ["s-a"]
        assert await stores.results.read("p-nobody", "", 10, 0) == []

    async def test_an_empty_read_waits_about_the_block_time(self, stores: Stores) -> None:
        started = time.monotonic()
        assert await stores.results.read("p-1", "", 10, 0.3) == []
        assert 0.25 <= time.monotonic() - started < 2.0

    async def test_a_waiting_read_wakes_up_on_release(self, stores: Stores) -> None:
        waiting = asyncio.create_task(stores.results.read("p-1", "", 10, 5.0))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await stores.results.release(_result("s-1"))
        entries = await asyncio.wait_for(waiting, 3.0)
        assert [e.result.submission_id for e in entries] == ["s-1"]
        assert time.monotonic() - started < 2.0

    @pytest.mark.parametrize("cursor", ["garbage", "1-x", f"{2**64}-0"])
    async def test_a_malformed_cursor_is_refused(self, stores: Stores, cursor: str) -> None:
        with pytest.raises(InvalidCursorError):
            await stores.results.read("p-1", cursor, 10, 0)

    async def test_gold_is_counted_once_per_submission(self, stores: Stores) -> None:
        key = ("w-1", "p-1", "label")
        await stores.quality.count_gold("s-1", *key, passed=False)
        await stores.quality.count_gold("s-1", *key, passed=False)
        tally = await stores.quality.count_gold("s-2", *key, passed=True)
        assert (tally.gold_passed, tally.gold_failed, tally.version) == (1, 1, 2)

    async def test_agreement_is_counted_once_per_submission_beside_gold(
        self, stores: Stores
    ) -> None:
        key = ("w-1", "p-1", "label")
        assert await stores.quality.tally(*key) == QualityTally(0, 0)
        await stores.quality.count_gold("s-1", *key, passed=True)
        # The same submission id counts separately as gold and as agreement (never both in
        # practice: gold tasks never have several answers).
        await stores.quality.count_agreement("s-1", *key, agreed=False)
        await stores.quality.count_agreement("s-2", *key, agreed=True)
        tally = await stores.quality.count_agreement("s-2", *key, agreed=True)
        assert tally == QualityTally(1, 0, 1, 1)
        assert tally.version == 3
        assert await stores.quality.tally(*key) == tally

    async def test_a_newer_claim_wins_and_carries_a_pending_announcement(
        self, stores: Stores
    ) -> None:
        key = ("w-1", "p-1", "label")
        assert not await stores.quality.claim(*key, 1, True)  # eligible is what all assume
        assert await stores.quality.claim(*key, 5, False)
        assert await stores.quality.claim(*key, 5, False)  # still pending: announce again
        assert await stores.quality.claim(*key, 6, False)  # newer, carries the pending one
        assert not await stores.quality.claim(*key, 5, False)
        await stores.quality.published(*key, 5)  # an older publish clears nothing
        assert await stores.quality.claim(*key, 6, False)
        await stores.quality.published(*key, 6)
        assert not await stores.quality.claim(*key, 6, False)
        assert await stores.quality.claim(*key, 7, True)


class TestMemoryStores(StoreContract):
    @pytest.fixture
    def stores(self) -> Stores:
        return Stores(MemoryTaskBook(), MemoryScoreMarks(), MemoryResultLog(), MemoryQualityBook())


@pytest.mark.integration
class TestRedisStores(StoreContract):
    @pytest.fixture
    async def stores(self, stack_endpoints: Any) -> AsyncIterator[Stores]:
        client: redis.Redis = redis.from_url(stack_endpoints.redis_url)
        prefix = f"scoring-test-{uuid.uuid4().hex}:"
        yield Stores(
            RedisTaskBook(client, prefix),
            RedisScoreMarks(client, prefix),
            RedisResultLog(client, prefix),
            RedisQualityBook(client, prefix),
        )
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
