"""The answer book's contract, run against the in-memory fake and real Redis, and answers to
one task handled at once by several replicas against real Redis: one step per sheet."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as redis

from fairtask_runtime.answers import answer_task_id
from fairtask_runtime.clock import FakeClock
from scoring.adapters.memory import MemoryQualityBook, MemoryQualityEvents, MemoryResultLog
from scoring.adapters.memory_overlap import MemoryAnswerBook, MemoryOverlapEvents
from scoring.adapters.redis_answers import RedisAnswerBook
from scoring.adapters.redis_quality import RedisQualityBook
from scoring.adapters.redis_store import RedisResultLog
from scoring.domain.answers import AnswerSheet, GivenAnswer
from scoring.domain.events import AnswersAggregated, AnswerWanted
from scoring.domain.model import TaskRecord
from scoring.domain.overlap import OverlapPolicy
from scoring.domain.quality import EligibilityRule
from scoring.service_layer.overlap import AnswerGiven, OverlapHandlers
from scoring.service_layer.ports import AnswerBook, QualityBook, ResultLog
from scoring.service_layer.quality import QualityHandlers

AT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)


@dataclass
class Stores:
    answers: AnswerBook
    results: ResultLog
    quality: QualityBook


def _given(worker: str, number: int, answer: str = "yes") -> GivenAnswer:
    return GivenAnswer(worker, answer, f"s-{worker}", number)


def _wanted(number: int, by: tuple[str, ...]) -> AnswerWanted:
    return AnswerWanted("t-1", "p-1", number, answer_task_id("t-1", number), by)


def _aggregated(answers: int) -> AnswersAggregated:
    return AnswersAggregated(
        "t-1",
        "p-1",
        "c-1",
        "label",
        "yes",
        0.8448275862068966,
        answers,
        True,
        tuple(f"s-w-{n}" for n in range(1, answers + 1)),
        (answer_task_id("t-1", 3),),
        AT,
    )


class AnswerBookContract:
    @pytest.fixture
    def stores(self) -> Any:
        raise NotImplementedError

    async def test_one_answer_per_worker_in_answer_order(self, stores: Stores) -> None:
        book = stores.answers
        assert await book.get("t-1") is None
        await book.record("t-1", _given("w-2", 2, "no"))
        sheet = await book.record("t-1", _given("w-1", 1))
        assert sheet.answers == (_given("w-1", 1), _given("w-2", 2, "no"))
        again = await book.record("t-1", replace(_given("w-1", 3, "no"), submission_id="s-x"))
        assert again == sheet
        assert await book.get("t-1") == AnswerSheet("t-1", sheet.answers)

    async def test_a_step_is_stored_only_from_the_sheet_it_was_decided_from(
        self, stores: Stores
    ) -> None:
        book = stores.answers
        first = await book.record("t-1", _given("w-1", 1))
        second = await book.record("t-1", _given("w-2", 2))
        assert not await book.ask(first, _wanted(2, ("w-1",)), AT)  # one answer behind
        assert await book.ask(second, _wanted(3, ("w-1", "w-2")), AT)
        assert not await book.ask(second, _wanted(3, ("w-1", "w-2")), AT)  # asked moved on
        asked = await book.get("t-1")
        assert asked == replace(
            second, asked=3, wanted=_wanted(3, ("w-1", "w-2")), pending="wanted:3"
        )
        assert not await book.settle(second, _aggregated(2), AT)
        third = await book.record("t-1", _given("w-3", 3))
        assert await book.settle(third, _aggregated(3), AT)
        assert not await book.settle(third, _aggregated(3), AT)
        settled = await book.get("t-1")
        assert settled is not None
        assert (settled.settled, settled.pending, settled.asked) == (
            _aggregated(3),
            "aggregated",
            3,
        )
        # Nothing changes a settled sheet.
        assert await book.record("t-1", _given("w-4", 4)) == settled

    async def test_pending_steps_wait_in_the_outbox_until_announced(self, stores: Stores) -> None:
        book = stores.answers
        sheet = await book.record("t-1", _given("w-1", 1))
        await book.ask(sheet, _wanted(2, ("w-1",)), AT)
        assert await book.unannounced(AT - timedelta(seconds=1), 10) == []
        assert await book.unannounced(AT, 10) == ["t-1"]
        await book.announced("t-1", "wanted:1")  # not the pending step: no effect
        assert await book.unannounced(AT, 10) == ["t-1"]
        await book.announced("t-1", "wanted:2")
        assert await book.unannounced(AT, 10) == []
        found = await book.get("t-1")
        assert found is not None
        assert found.pending == ""

    async def test_an_answer_waited_for_is_listed_until_it_is_in_or_settled(
        self, stores: Stores
    ) -> None:
        book = stores.answers
        sheet = await book.record("t-1", _given("w-1", 1))
        assert await book.asked_before(AT, 10) == []
        await book.ask(sheet, _wanted(2, ("w-1",)), AT)
        assert await book.asked_before(AT - timedelta(seconds=1), 10) == []
        assert await book.asked_before(AT, 10) == ["t-1"]
        waiting = await book.get("t-1")
        assert waiting is not None
        later = AT + timedelta(minutes=10)
        again = replace(_wanted(2, ("w-1",)), asked_again=1)
        assert await book.ask_again(waiting, again, later)
        assert await book.asked_before(AT, 10) == []
        assert await book.asked_before(later, 10) == ["t-1"]
        stored = await book.get("t-1")
        assert stored is not None
        assert (stored.wanted, stored.pending, stored.asked) == (again, "wanted:2", 2)
        # Answered meanwhile: not asked again, and no longer listed.
        answered = await book.record("t-1", _given("w-2", 2))
        assert not await book.ask_again(waiting, again, later)
        assert not await book.ask_again(answered, again, later)  # it waits for nothing
        assert await book.asked_before(later, 10) == []
        # Asked for a third, then settled: listed, then gone.
        await book.ask(answered, _wanted(3, ("w-1", "w-2")), later)
        assert await book.asked_before(later, 10) == ["t-1"]
        third = await book.record("t-1", _given("w-3", 3))
        await book.settle(third, _aggregated(3), later)
        assert await book.asked_before(later, 10) == []
        # Stopped by hand.
        other = await book.record("t-2", replace(_given("w-1", 1), submission_id="s-t2"))
        await book.ask(other, replace(_wanted(2, ("w-1",)), task_id="t-2"), AT)
        await book.stop_asking("t-2")
        assert await book.asked_before(later, 10) == []

    async def test_a_settled_aggregate_waits_until_released(self, stores: Stores) -> None:
        book = stores.answers
        await book.record("t-1", _given("w-1", 1))
        sheet = await book.record("t-1", _given("w-2", 2))
        await book.settle(sheet, _aggregated(2), AT)
        assert await book.unreleased(AT, 10) == ["t-1"]
        later = AT + timedelta(minutes=1)
        await book.checked("t-1", False, later)
        assert await book.unreleased(AT, 10) == []
        assert await book.unreleased(later, 10) == ["t-1"]
        await book.checked("t-1", True, later)
        assert await book.unreleased(later, 10) == []
        await book.checked("t-1", False, later)  # a late "not yet" does not bring it back
        assert await book.unreleased(later, 10) == []

    @pytest.mark.parametrize("round_", range(5))
    async def test_answers_handled_at_once_by_replicas_take_one_step_each(
        self, stores: Stores, round_: int
    ) -> None:
        """Answers of several tasks race, each on its own replica (handler); every sheet
        moves one step at a time whatever the interleaving, and each step is announced once
        (a handler that lost the race leaves the announcement to the winner)."""
        clock = FakeClock()
        policy = OverlapPolicy(min_answers=2, max_answers=3, confidence_target=0.8)
        events = MemoryOverlapEvents()

        def replica() -> OverlapHandlers:
            quality = QualityHandlers(
                stores.quality, MemoryQualityEvents(), clock, EligibilityRule(0.6, 5)
            )
            return OverlapHandlers(stores.answers, events, stores.results, quality, clock)

        tasks = [TaskRecord(f"t-{round_}-{i}", "p-1", "c", "label") for i in range(20)]
        await asyncio.gather(
            *(
                replica().answered(
                    AnswerGiven(task, policy, f"w-{n}", b"yes", f"s-{task.task_id}-{n}", n)
                )
                for task in tasks
                for n in (1, 2)
            )
        )
        for task in tasks:
            wanted = [e for e in events.wanted if e.task_id == task.task_id]
            aggregated = [e for e in events.aggregated if e.task_id == task.task_id]
            # Decided on one answer first (then answer 2 was "asked"), or on both at once.
            assert [w.answer_number for w in wanted] in ([], [2])
            [settled] = aggregated
            assert (settled.answers, settled.answer, settled.confident) == (2, "yes", True)
            sheet = await stores.answers.get(task.task_id)
            assert sheet is not None
            assert sheet.settled == settled
            assert sheet.pending == ""


class TestMemoryAnswerBook(AnswerBookContract):
    @pytest.fixture
    def stores(self) -> Stores:
        return Stores(MemoryAnswerBook(), MemoryResultLog(), MemoryQualityBook())


@pytest.mark.integration
class TestRedisAnswerBook(AnswerBookContract):
    @pytest.fixture
    async def stores(self, stack_endpoints: Any) -> AsyncIterator[Stores]:
        client: redis.Redis = redis.from_url(stack_endpoints.redis_url)
        prefix = f"scoring-test-{uuid.uuid4().hex}:"
        yield Stores(
            RedisAnswerBook(client, prefix),
            RedisResultLog(client, prefix),
            RedisQualityBook(client, prefix),
        )
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
