"""Worker quality from gold answers, and the pool eligibility it decides.

Each gold result is counted once per submission; whenever the estimate moves a worker across
the eligibility bar of a task type, the dispatcher is told (workers.quality). A worker is
kept out only when the estimate is confidently below the bar (see EligibilityRule), and
quality never touches pay.
"""

from dataclasses import dataclass

from fairtask_runtime.clock import Clock
from scoring.domain.events import EligibilityChange
from scoring.domain.quality import EligibilityRule, QualityPrior, WorkerQuality
from scoring.service_layer.ports import QualityBook, QualityEvents


@dataclass(frozen=True)
class GoldResult:
    submission_id: str
    worker_id: str
    platform_id: str
    task_type: str
    passed: bool


class QualityHandlers:
    def __init__(
        self,
        book: QualityBook,
        events: QualityEvents,
        clock: Clock,
        rule: EligibilityRule,
        prior: QualityPrior | None = None,
    ) -> None:
        self._book = book
        self._events = events
        self._clock = clock
        self._rule = rule
        self._prior = prior or QualityPrior()

    async def gold_scored(self, result: GoldResult) -> EligibilityChange | None:
        """Counts the result and announces a change of eligibility, if any. Safe to re-run:
        the count is once per submission, and an announcement lost to a crash is still
        pending for its version, so the re-run makes it."""
        tally = await self._book.count_gold(
            result.submission_id,
            result.worker_id,
            result.platform_id,
            result.task_type,
            result.passed,
        )
        quality = WorkerQuality(
            result.worker_id,
            result.task_type,
            gold_passed=tally.gold_passed,
            gold_failed=tally.gold_failed,
            prior=self._prior,
        )
        eligible = self._rule.eligible(quality)
        key = (result.worker_id, result.platform_id, result.task_type)
        if not await self._book.claim(*key, tally.version, eligible):
            return None
        change = EligibilityChange(
            worker_id=result.worker_id,
            platform_id=result.platform_id,
            task_type=result.task_type,
            eligible=eligible,
            quality=quality.mean,
            gold_passed=tally.gold_passed,
            gold_failed=tally.gold_failed,
            changed_at=self._clock.now(),
        )
        # Results of one worker are scored concurrently (submissions are keyed by task): the
        # tally version in the event lets the dispatcher keep only the newest estimate.
        await self._events.publish(change)
        await self._book.published(*key, tally.version)
        return change
