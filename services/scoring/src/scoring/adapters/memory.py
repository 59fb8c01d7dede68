"""In-memory fakes of every port, for handler tests and local experiments.

They keep the contracts of the real adapters (first write wins, atomic release per
submission, cursors of the same shape) so the same contract tests run against both.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fairtask_runtime.clock import Clock
from scoring.adapters.memory_overlap import MemoryAnswerBook, MemoryOverlapEvents
from scoring.domain.cursor import format_cursor, parse_cursor
from scoring.domain.events import EligibilityChange, SubmissionScored
from scoring.domain.model import Result, ResultEntry, TaskRecord, Verdict
from scoring.domain.quality import EligibilityRule
from scoring.domain.reviews import OPEN_STATES, Review, ReviewRules, ReviewState, page_key
from scoring.service_layer.handlers import ScoringHandlers, WatchConfig
from scoring.service_layer.overlap import OverlapHandlers, OverlapSweepConfig
from scoring.service_layer.ports import QualityTally
from scoring.service_layer.quality import QualityHandlers
from scoring.service_layer.reviews import ReviewHandlers


class MemoryTaskBook:
    def __init__(self) -> None:
        self.tasks: dict[str, TaskRecord] = {}

    async def remember(self, task: TaskRecord) -> bool:
        if task.task_id in self.tasks:
            return False
        self.tasks[task.task_id] = task
        return True

    async def get(self, task_id: str) -> TaskRecord | None:
        return self.tasks.get(task_id)


class MemoryScoreMarks:
    def __init__(self) -> None:
        self.verdicts: dict[str, Verdict] = {}

    async def is_scored(self, submission_id: str) -> bool:
        return submission_id in self.verdicts

    async def mark_scored(self, submission_id: str, verdict: Verdict) -> None:
        self.verdicts[submission_id] = verdict


class MemoryResultLog:
    def __init__(self) -> None:
        self._logs: dict[str, list[tuple[tuple[int, int], Result]]] = {}
        self._released: set[str] = set()
        self._next_ms = 1
        self._appended = asyncio.Event()

    async def release(self, result: Result) -> bool:
        if result.release_key in self._released:
            return False
        self._released.add(result.release_key)
        position = (self._next_ms, 0)
        self._next_ms += 1
        self._logs.setdefault(result.platform_id, []).append((position, result))
        # Wake every waiting reader, then arm a fresh event for the next append.
        self._appended.set()
        self._appended = asyncio.Event()
        return True

    async def all_released(self, submission_ids: Sequence[str]) -> bool:
        return all(sid in self._released for sid in submission_ids)

    async def read(
        self, platform_id: str, after: str, limit: int, block_s: float
    ) -> list[ResultEntry]:
        start = parse_cursor(after) if after else (0, 0)
        found = self._after(platform_id, start, limit)
        if not found and block_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._appended.wait(), block_s)
            found = self._after(platform_id, start, limit)
        return found

    def _after(self, platform_id: str, start: tuple[int, int], limit: int) -> list[ResultEntry]:
        log = self._logs.get(platform_id, [])
        return [
            ResultEntry(format_cursor(*position), result)
            for position, result in log
            if position > start
        ][:limit]


class MemoryScoredEvents:
    def __init__(self) -> None:
        self.published: list[SubmissionScored] = []

    async def publish(self, event: SubmissionScored) -> None:
        self.published.append(event)


class MemoryReviewBook:
    """The Redis review book's contract: compare-and-set on the state, the release atomic
    with the change, steps queued until announced."""

    def __init__(self, results: MemoryResultLog) -> None:
        self.reviews: dict[str, Review] = {}
        self.outbox: dict[tuple[str, str], datetime] = {}
        self._results = results

    async def get(self, submission_id: str) -> Review | None:
        return self.reviews.get(submission_id)

    async def save(
        self, review: Review, expected: ReviewState | None, release: Result | None, now: datetime
    ) -> bool:
        current = self.reviews.get(review.submission_id)
        if (current.state if current else None) is not expected:
            return False
        self.reviews[review.submission_id] = review
        self.outbox[(review.submission_id, review.state.value)] = now
        if release is not None:
            await self._results.release(release)
        return True

    async def due(self, now: datetime, limit: int) -> list[str]:
        due = sorted(
            (r.due, sid)
            for sid, r in self.reviews.items()
            if r.state in OPEN_STATES and r.due is not None and r.due <= now
        )
        return [sid for _, sid in due[:limit]]

    async def pending(self, platform_id: str, after: str, limit: int) -> list[Review]:
        return self._page(platform_id, ReviewState.PENDING, after, limit)

    async def open_appeals(self, platform_id: str, after: str, limit: int) -> list[Review]:
        return self._page(platform_id, ReviewState.APPEALED, after, limit)

    async def of_worker(self, worker_id: str, before: str, limit: int) -> list[Review]:
        keyed = sorted(
            (
                (page_key(r.scored_at, r.submission_id), r)
                for r in self.reviews.values()
                if r.worker_id == worker_id
            ),
            key=lambda item: item[0],
            reverse=True,
        )
        return [r for key, r in keyed if not before or key < before][:limit]

    async def unannounced(self, older_than: datetime, limit: int) -> list[tuple[str, str]]:
        return [step for step, at in self.outbox.items() if at <= older_than][:limit]

    async def announced(self, submission_id: str, state: ReviewState) -> None:
        self.outbox.pop((submission_id, state.value), None)

    async def counts(self) -> tuple[int, int]:
        states = [r.state for r in self.reviews.values()]
        return states.count(ReviewState.PENDING), states.count(ReviewState.APPEALED)

    def _page(self, platform_id: str, state: ReviewState, after: str, limit: int) -> list[Review]:
        def key(review: Review) -> str:
            moment = review.appealed_at if state is ReviewState.APPEALED else review.scored_at
            return page_key(moment, review.submission_id)

        found = sorted(
            (r for r in self.reviews.values() if r.platform_id == platform_id and r.state is state),
            key=key,
        )
        return [r for r in found if not after or key(r) > after][:limit]


class MemoryReviewEvents:
    def __init__(self) -> None:
        self.published: list[Review] = []
        self.failing = False

    async def publish(self, review: Review) -> None:
        if self.failing:
            raise ConnectionError("kafka is away")
        self.published.append(review)


class MemoryQualityBook:
    def __init__(self) -> None:
        self.tallies: dict[tuple[str, str, str], list[int]] = {}
        # (announced eligible, claimed version, pending) per key.
        self.claims: dict[tuple[str, str, str], tuple[bool, int, bool]] = {}
        # [agreed, disagreed] per key.
        self.agreements: dict[tuple[str, str, str], list[int]] = {}
        self._counted: set[str] = set()
        self._agreement_counted: set[str] = set()

    async def count_gold(
        self, submission_id: str, worker_id: str, platform_id: str, task_type: str, passed: bool
    ) -> QualityTally:
        tally = self.tallies.setdefault((worker_id, platform_id, task_type), [0, 0])
        if submission_id not in self._counted:
            self._counted.add(submission_id)
            tally[0 if passed else 1] += 1
        return await self.tally(worker_id, platform_id, task_type)

    async def count_agreement(
        self, submission_id: str, worker_id: str, platform_id: str, task_type: str, agreed: bool
    ) -> QualityTally:
        counts = self.agreements.setdefault((worker_id, platform_id, task_type), [0, 0])
        if submission_id not in self._agreement_counted:
            self._agreement_counted.add(submission_id)
            counts[0 if agreed else 1] += 1
        return await self.tally(worker_id, platform_id, task_type)

    async def tally(self, worker_id: str, platform_id: str, task_type: str) -> QualityTally:
        key = (worker_id, platform_id, task_type)
        gold = self.tallies.get(key, [0, 0])
        agreement = self.agreements.get(key, [0, 0])
        return QualityTally(gold[0], gold[1], agreement[0], agreement[1])

    async def claim(
        self, worker_id: str, platform_id: str, task_type: str, version: int, eligible: bool
    ) -> bool:
        key = (worker_id, platform_id, task_type)
        announced, claimed, pending = self.claims.get(key, (True, -1, False))
        if claimed > version:
            return False
        if claimed == version:
            return pending
        # A change, or an older claim's announcement still pending (it says the same, newer).
        announce = announced != eligible or pending
        self.claims[key] = (eligible, version, announce)
        return announce

    async def published(
        self, worker_id: str, platform_id: str, task_type: str, version: int
    ) -> None:
        key = (worker_id, platform_id, task_type)
        announced, claimed, _ = self.claims[key]
        if claimed == version:
            self.claims[key] = (announced, claimed, False)


class MemoryQualityEvents:
    def __init__(self) -> None:
        self.published: list[EligibilityChange] = []

    async def publish(self, change: EligibilityChange) -> None:
        self.published.append(change)


@dataclass
class MemoryPorts:
    """One fake of each port, for wiring handlers in tests."""

    tasks: MemoryTaskBook = field(default_factory=MemoryTaskBook)
    marks: MemoryScoreMarks = field(default_factory=MemoryScoreMarks)
    results: MemoryResultLog = field(default_factory=MemoryResultLog)
    events: MemoryScoredEvents = field(default_factory=MemoryScoredEvents)
    review_events: MemoryReviewEvents = field(default_factory=MemoryReviewEvents)
    quality: MemoryQualityBook = field(default_factory=MemoryQualityBook)
    quality_events: MemoryQualityEvents = field(default_factory=MemoryQualityEvents)
    answers: MemoryAnswerBook = field(default_factory=MemoryAnswerBook)
    overlap_events: MemoryOverlapEvents = field(default_factory=MemoryOverlapEvents)
    reviews: MemoryReviewBook = field(init=False)

    def __post_init__(self) -> None:
        self.reviews = MemoryReviewBook(self.results)

    def handlers(
        self,
        clock: Clock,
        watch: WatchConfig | None = None,
        rules: ReviewRules | None = None,
        overlap_sweep: OverlapSweepConfig | None = None,
    ) -> ScoringHandlers:
        quality = QualityHandlers(
            self.quality, self.quality_events, clock, EligibilityRule(min_quality=0.6, min_gold=5)
        )
        overlap = OverlapHandlers(
            self.answers, self.overlap_events, self.results, quality, clock, overlap_sweep
        )
        reviews = ReviewHandlers(
            self.reviews,
            self.review_events,
            clock,
            rules or ReviewRules(),
            answer_released=overlap.result_released,
        )
        return ScoringHandlers(
            self.tasks,
            self.marks,
            self.results,
            self.events,
            reviews,
            quality,
            overlap,
            clock,
            watch,
        )
