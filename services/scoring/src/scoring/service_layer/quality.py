"""Worker quality from gold answers and agreement, and the pool eligibility it decides.

Each gold result, and each answer's agreement with its task's settled aggregate, is counted
once per submission; whenever the estimate moves a worker across
the eligibility bar of a task type, the dispatcher is told (workers.quality). A worker is
kept out only when the estimate is confidently below the bar (see EligibilityRule), and
quality never touches pay.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from fairtask_runtime.clock import Clock
from scoring.domain.events import EligibilityChange
from scoring.domain.quality import EligibilityRule, QualityPrior, WorkerQuality
from scoring.service_layer.ports import QualityBook, QualityEvents, QualityTally


@dataclass(frozen=True)
class GoldResult:
    submission_id: str
    worker_id: str
    platform_id: str
    task_type: str
    passed: bool


@dataclass(frozen=True)
class AgreementResult:
    submission_id: str
    worker_id: str
    platform_id: str
    task_type: str
    agreed: bool


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
        return await self._judge((result.worker_id, result.platform_id, result.task_type), tally)

    async def agreement_scored(self, result: AgreementResult) -> EligibilityChange | None:
        """Counts one answer's agreement with its task's settled aggregate (with the smaller
        weight QualityPrior gives agreement: the aggregate can itself be wrong) and, like
        gold, announces a change of eligibility. Safe to re-run, once per submission."""
        tally = await self._book.count_agreement(
            result.submission_id,
            result.worker_id,
            result.platform_id,
            result.task_type,
            result.agreed,
        )
        return await self._judge((result.worker_id, result.platform_id, result.task_type), tally)

    async def estimates(
        self, platform_id: str, task_type: str, worker_ids: Sequence[str]
    ) -> dict[str, float]:
        """Each worker's estimated accuracy on the task type; workers with no evidence yet are
        left out, for the caller's own stand-in."""
        found = {}
        for worker_id in worker_ids:
            tally = await self._book.tally(worker_id, platform_id, task_type)
            if tally.version:
                found[worker_id] = self._quality(worker_id, task_type, tally).mean
        return found

    def _quality(self, worker_id: str, task_type: str, tally: QualityTally) -> WorkerQuality:
        return WorkerQuality(
            worker_id,
            task_type,
            gold_passed=tally.gold_passed,
            gold_failed=tally.gold_failed,
            agreed=tally.agreed,
            disagreed=tally.disagreed,
            prior=self._prior,
        )

    async def _judge(
        self, key: tuple[str, str, str], tally: QualityTally
    ) -> EligibilityChange | None:
        worker_id, platform_id, task_type = key
        quality = self._quality(worker_id, task_type, tally)
        eligible = self._rule.eligible(quality)
        if not await self._book.claim(*key, tally.version, eligible):
            return None
        change = EligibilityChange(
            worker_id=worker_id,
            platform_id=platform_id,
            task_type=task_type,
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
