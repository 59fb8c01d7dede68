"""Several answers per task: after each answer, ask one more worker or settle the aggregate.

Answers to one platform task come in through different task ids (the task and its copies),
so two of them may be handled at once by different consumers or replicas, and any may be
redelivered or replayed. The answer sheet in the AnswerBook is the one place they meet: each
handler records its answer, decides from the sheet it read, and stores the step only if the
sheet is still what it decided from (else it reads again and decides again). So exactly one
handler asks for answer n + 1, and exactly one settles.

A further answer's copy may be withdrawn before anyone answers it (the platform cancelled the
task, or its deadline passed): that answer will never come, so the task is settled with the
answers it has, under the same rule (one handler settles; the rest find it settled).

The handler that stored a step announces it. A crash or a failed publish in between leaves
it pending on the sheet: the redelivered submission (the consumer commits only after this
returns), a replay of any answer to the task, or the sweep announces it again, under the
same event id, so consumers drop whatever duplicate that makes.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from fairtask_runtime.answers import MAX_ANSWERS, answer_task_id
from fairtask_runtime.clock import Clock
from scoring import metrics
from scoring.domain.answers import (
    AGGREGATED_STEP,
    AnswerSheet,
    GivenAnswer,
    answer_text,
    spelled,
    wanted_step,
)
from scoring.domain.events import AnswersAggregated, AnswerWanted
from scoring.domain.model import Result, TaskRecord
from scoring.domain.overlap import (
    OverlapDecision,
    OverlapOutcome,
    OverlapPolicy,
    decide_overlap,
)
from scoring.domain.verdicts import normalize_answer
from scoring.service_layer.ports import AnswerBook, OverlapEvents, ResultLog
from scoring.service_layer.quality import AgreementResult, QualityHandlers

log = structlog.get_logger(__name__)

# Each lost race means another handler stored a step, and a sheet takes at most one step per
# answer plus the settlement: more rounds than that is a bug, not contention.
_MAX_ROUNDS = 2 * MAX_ANSWERS + 2


class OverlapContentionError(Exception):
    """The sheet kept moving under the handler; retryable (the consumer retries it)."""


@dataclass(frozen=True)
class AnswerGiven:
    """A scored, non-gold answer to a task with several answers."""

    # The platform's task (not the copy): it holds the policy and names the aggregate.
    task: TaskRecord
    policy: OverlapPolicy
    worker_id: str
    answer: bytes
    submission_id: str
    answer_number: int


@dataclass(frozen=True)
class OverlapSweepConfig:
    batch: int = 200
    # A step still pending this long after it was stored lost its announcement to a failure.
    announce_retry_after: timedelta = timedelta(seconds=10)
    # How often an aggregate waiting for its answers' release is checked without a hint.
    release_recheck_after: timedelta = timedelta(seconds=30)
    # An answer asked for and not in after this long is asked for again: the dispatcher
    # answers anew (a copy withdrawn meanwhile is said again), which makes good a
    # cancellation whose event was lost to a crash or went by before scoring listened.
    ask_again_after: timedelta = timedelta(minutes=10)
    # ... for about a week (the dispatcher keeps a finished copy's record 8 days).
    ask_again_at_most: int = 1000


class OverlapHandlers:
    def __init__(
        self,
        book: AnswerBook,
        events: OverlapEvents,
        results: ResultLog,
        quality: QualityHandlers,
        clock: Clock,
        sweep: OverlapSweepConfig | None = None,
    ) -> None:
        self._book = book
        self._events = events
        self._results = results
        self._quality = quality
        self._clock = clock
        self._sweep = sweep or OverlapSweepConfig()

    async def answered(self, command: AnswerGiven) -> AnswerSheet:
        """Records the answer, then asks for the next or settles, as the sheet requires.

        Safe to re-run and to run concurrently with other answers to the task: see the
        module docstring. Raises when an announcement fails (the step stays pending and a
        re-run announces it) and OverlapContentionError if the sheet will not hold still.
        """
        task_id = command.task.task_id
        sheet: AnswerSheet | None = await self._book.record(
            task_id,
            GivenAnswer(
                command.worker_id,
                answer_text(command.answer),
                command.submission_id,
                command.answer_number,
                spelled(command.answer),
            ),
        )
        lost_race = False
        for _ in range(_MAX_ROUNDS):
            if sheet is None:
                break
            if sheet.settled is not None or sheet.waiting:
                if lost_race:
                    # The handler that just took this step is announcing it (and if it
                    # fails, its retry or the sweep will): announcing it here as well would
                    # only send a duplicate.
                    return sheet
                # Settled, or the answer asked for is not in yet. The step may have been
                # stored by a run that crashed before finishing it: if so, finish it now.
                if sheet.settled is not None:
                    await self._finish(sheet)
                else:
                    await self._announce_wanted(sheet)
                return sheet
            moved = await self._decide(command.task, command.policy, sheet)
            if moved is not None:
                return moved
            # Another handler moved the sheet on between our read and our write.
            lost_race = True
            sheet = await self._book.get(task_id)
        raise OverlapContentionError(f"the answers to task {task_id} kept changing")

    async def answer_withdrawn(
        self, task: TaskRecord, policy: OverlapPolicy, copy_id: str
    ) -> AnswerSheet | None:
        """The copy `copy_id` of `task` was cancelled unanswered. If the sheet waits for that
        very answer, settles the task with the answers it has: not confident, since it asked
        for more because they fell short of the minimum or the target. A no-op otherwise (not
        asked for yet, answered, settled), so safe to re-run. Returns the sheet after it
        (None if no answer was recorded)."""
        for _ in range(_MAX_ROUNDS):
            sheet = await self._book.get(task.task_id)
            if sheet is None or sheet.settled is not None or not _waits_for(sheet, copy_id):
                return sheet
            decision = await self._decision(task, policy, sheet)
            settled = await self._settle(task, policy, sheet, decision)
            if settled is not None:
                metrics.ANSWERS_WITHDRAWN.inc()
                log.info(
                    "settled with the answers it has: a further answer was withdrawn",
                    task_id=task.task_id,
                    answers=len(sheet.answers),
                )
                return settled
        raise OverlapContentionError(f"the answers to task {task.task_id} kept changing")

    async def result_released(self, task_id: str) -> None:
        """One answer to the task was released: the aggregate follows once all its answers
        are. A no-op until the task settles (settling tries the release itself)."""
        sheet = await self._book.get(task_id)
        if sheet is not None and sheet.settled is not None:
            await self._release_aggregate(sheet.settled)

    async def sweep(self) -> int:
        """Announces steps whose announcement failed and releases aggregates whose last
        answer's release lost its hint to a crash. Safe in every replica at once. Returns
        how many tasks it moved on."""
        now = self._clock.now()
        done = 0
        stale = now - self._sweep.announce_retry_after
        for task_id in await self._book.unannounced(stale, self._sweep.batch):
            sheet = await self._book.get(task_id)
            if sheet is None:
                continue
            try:
                if sheet.settled is not None:
                    await self._finish(sheet)
                else:
                    await self._announce_wanted(sheet)
                done += 1
            except Exception as error:
                log.warning("overlap step not announced yet", task_id=task_id, error=str(error))
        done += await self._ask_again(now)
        recheck = now - self._sweep.release_recheck_after
        for task_id in await self._book.unreleased(recheck, self._sweep.batch):
            sheet = await self._book.get(task_id)
            if sheet is not None and sheet.settled is not None:
                done += await self._release_aggregate(sheet.settled)
        return done

    async def _ask_again(self, now: datetime) -> int:
        """Asks again for answers that have been waited for `ask_again_after`."""
        asked = 0
        stale = now - self._sweep.ask_again_after
        for task_id in await self._book.asked_before(stale, self._sweep.batch):
            sheet = await self._book.get(task_id)
            if sheet is None or sheet.wanted is None:
                # Nothing to ask for: left in the list, it would be first in every sweep and,
                # with enough like it, keep the rest from ever being asked again.
                await self._book.stop_asking(task_id)
                continue
            again = replace(sheet.wanted, asked_again=sheet.wanted.asked_again + 1)
            if again.asked_again > self._sweep.ask_again_at_most:
                log.warning("answer still missing; no longer asked for", task_id=task_id)
                await self._book.stop_asking(task_id)
                continue
            if not await self._book.ask_again(sheet, again, now):
                continue  # answered, settled or moved on meanwhile
            try:
                await self._events.answer_wanted(again)
            except Exception as error:
                log.warning("answer not asked for again yet", task_id=task_id, error=str(error))
                continue
            metrics.ANSWERS_ASKED_AGAIN.inc()
            asked += 1
        return asked

    async def _decide(
        self, task: TaskRecord, policy: OverlapPolicy, sheet: AnswerSheet
    ) -> AnswerSheet | None:
        """Stores the next step decided from `sheet` and announces it; None when the sheet
        moved on meanwhile."""
        decision = await self._decision(task, policy, sheet)
        now = self._clock.now()
        count = len(sheet.answers)
        if decision.needs_more_answers:
            number = count + 1
            wanted = AnswerWanted(
                task_id=task.task_id,
                platform_id=task.platform_id,
                answer_number=number,
                answer_task_id=answer_task_id(task.task_id, number),
                answered_by=sheet.workers,
            )
            if not await self._book.ask(sheet, wanted, now):
                return None
            metrics.ANSWERS_WANTED.inc()
            asked = replace(sheet, asked=number, wanted=wanted, pending=wanted_step(number))
            await self._announce_wanted(asked)
            return asked
        return await self._settle(task, policy, sheet, decision)

    async def _decision(
        self, task: TaskRecord, policy: OverlapPolicy, sheet: AnswerSheet
    ) -> OverlapDecision:
        qualities = await self._quality.estimates(task.platform_id, task.task_type, sheet.workers)
        return decide_overlap(policy, sheet.labels(), qualities)

    async def _settle(
        self, task: TaskRecord, policy: OverlapPolicy, sheet: AnswerSheet, decision: OverlapDecision
    ) -> AnswerSheet | None:
        """Stores the aggregate of `sheet`'s answers and finishes it; None when the sheet moved
        on meanwhile."""
        now = self._clock.now()
        count = len(sheet.answers)
        aggregated = AnswersAggregated(
            task_id=task.task_id,
            platform_id=task.platform_id,
            client_task_id=task.client_task_id,
            task_type=task.task_type,
            answer=sheet.spelling_of(decision.answer),
            confidence=decision.confidence,
            answers=count,
            confident=decision.outcome is OverlapOutcome.ENOUGH,
            submission_ids=tuple(a.submission_id for a in sheet.answers),
            # Copies never answered (not asked for, or withdrawn): their escrow holds are freed.
            unused_task_ids=tuple(
                answer_task_id(task.task_id, n) for n in range(count + 1, policy.max_answers + 1)
            ),
            aggregated_at=now,
        )
        if not await self._book.settle(sheet, aggregated, now):
            return None
        metrics.record_aggregate(aggregated)
        settled = replace(sheet, settled=aggregated, pending=AGGREGATED_STEP)
        await self._finish(settled)
        return settled

    async def _announce_wanted(self, sheet: AnswerSheet) -> None:
        if sheet.wanted is None or sheet.pending != wanted_step(sheet.wanted.answer_number):
            return
        # Raises if Kafka is away: the step stays pending for the retry or the sweep.
        await self._events.answer_wanted(sheet.wanted)
        await self._book.announced(sheet.task_id, sheet.pending)

    async def _finish(self, sheet: AnswerSheet) -> None:
        """Everything that follows a settlement, each step idempotent, so a re-run after a
        crash anywhere redoes what is missing: the announcement (if still pending), the
        answers' agreement counted into quality, and the aggregate's release."""
        aggregated = sheet.settled
        assert aggregated is not None
        if sheet.pending == AGGREGATED_STEP:
            await self._events.answers_aggregated(aggregated)
        if aggregated.confident:
            # An aggregate that missed its target is no yardstick for the workers.
            for given in sheet.answers:
                await self._quality.agreement_scored(
                    AgreementResult(
                        given.submission_id,
                        given.worker_id,
                        aggregated.platform_id,
                        aggregated.task_type,
                        agreed=given.answer == normalize_answer(aggregated.answer),
                    )
                )
        await self._release_aggregate(aggregated)
        if sheet.pending == AGGREGATED_STEP:
            # Last: until here the sweep finds the task and redoes what a crash left undone.
            await self._book.announced(sheet.task_id, AGGREGATED_STEP)

    async def _release_aggregate(self, aggregated: AnswersAggregated) -> bool:
        """Releases the aggregate once every answer it counts was released (each is
        released only when paid for, so the aggregate never leaks withheld work)."""
        now = self._clock.now()
        if not await self._results.all_released(aggregated.submission_ids):
            await self._book.checked(aggregated.task_id, False, now)
            return False
        released = await self._results.release(
            Result(
                submission_id="",
                platform_id=aggregated.platform_id,
                task_id=aggregated.task_id,
                client_task_id=aggregated.client_task_id,
                task_type=aggregated.task_type,
                worker_id="",
                answer=aggregated.answer.encode(),
                released_at=now,
                aggregate=True,
                confidence=aggregated.confidence,
                answers=aggregated.answers,
                confident=aggregated.confident,
            )
        )
        if released:
            metrics.AGGREGATES_RELEASED.inc()
        await self._book.checked(aggregated.task_id, True, now)
        return True


def _waits_for(sheet: AnswerSheet, copy_id: str) -> bool:
    """The sheet asked for the answer `copy_id` carries, and it is not in."""
    return sheet.waiting and sheet.wanted is not None and sheet.wanted.answer_task_id == copy_id
