"""In-memory fakes of the overlap ports: answer sheets and tasks.overlap."""

import asyncio
from dataclasses import replace
from datetime import datetime

from scoring.domain.answers import AGGREGATED_STEP, AnswerSheet, GivenAnswer, by_order, wanted_step
from scoring.domain.events import AnswersAggregated, AnswerWanted


class MemoryAnswerBook:
    """The Redis answer book's contract: one answer per worker, none after settling, and a
    step stored only from the sheet it was decided from."""

    def __init__(self) -> None:
        self.sheets: dict[str, AnswerSheet] = {}
        # task id -> when its pending step was stored / its aggregate's release last tried.
        self.outbox: dict[str, datetime] = {}
        self.awaiting_release: dict[str, datetime] = {}
        # task id -> when it last asked for an answer, while unsettled.
        self.asked_at: dict[str, datetime] = {}

    async def record(self, task_id: str, answer: GivenAnswer) -> AnswerSheet:
        sheet = self.sheets.get(task_id) or AnswerSheet(task_id, ())
        known = {a.worker_id for a in sheet.answers}
        if sheet.settled is None and answer.worker_id not in known:
            sheet = replace(sheet, answers=by_order([*sheet.answers, answer]))
            self.sheets[task_id] = sheet
        # A real store's reply is a round trip away: other handlers run meanwhile, so the
        # sheet returned may be out of date by the time the caller decides from it.
        await asyncio.sleep(0)
        return sheet

    async def get(self, task_id: str) -> AnswerSheet | None:
        await asyncio.sleep(0)
        return self.sheets.get(task_id)

    async def ask(self, seen: AnswerSheet, wanted: AnswerWanted, now: datetime) -> bool:
        if not self._unchanged(seen):
            return False
        step = wanted_step(wanted.answer_number)
        self.sheets[seen.task_id] = replace(
            seen, asked=wanted.answer_number, wanted=wanted, pending=step
        )
        self.outbox[seen.task_id] = now
        self.asked_at[seen.task_id] = now
        return True

    async def asked_before(self, older_than: datetime, limit: int) -> list[str]:
        due = sorted((at, task_id) for task_id, at in self.asked_at.items() if at <= older_than)
        return [task_id for _, task_id in due[:limit]]

    async def stop_asking(self, task_id: str) -> None:
        self.asked_at.pop(task_id, None)

    async def ask_again(self, seen: AnswerSheet, wanted: AnswerWanted, now: datetime) -> bool:
        if not self._unchanged(seen) or len(seen.answers) >= seen.asked:
            self.asked_at.pop(seen.task_id, None)
            return False
        stored = self.sheets[seen.task_id]
        self.sheets[seen.task_id] = replace(stored, wanted=wanted)
        self.asked_at[seen.task_id] = now
        return True

    async def settle(self, seen: AnswerSheet, aggregated: AnswersAggregated, now: datetime) -> bool:
        if not self._unchanged(seen):
            return False
        self.sheets[seen.task_id] = replace(seen, settled=aggregated, pending=AGGREGATED_STEP)
        self.outbox[seen.task_id] = now
        self.awaiting_release[seen.task_id] = now
        self.asked_at.pop(seen.task_id, None)
        return True

    async def announced(self, task_id: str, step: str) -> None:
        sheet = self.sheets.get(task_id)
        if sheet is not None and sheet.pending == step:
            self.sheets[task_id] = replace(sheet, pending="")
            self.outbox.pop(task_id, None)

    async def unannounced(self, older_than: datetime, limit: int) -> list[str]:
        due = sorted((at, task_id) for task_id, at in self.outbox.items() if at <= older_than)
        return [task_id for _, task_id in due[:limit]]

    async def unreleased(self, older_than: datetime, limit: int) -> list[str]:
        due = sorted(
            (at, task_id) for task_id, at in self.awaiting_release.items() if at <= older_than
        )
        return [task_id for _, task_id in due[:limit]]

    async def checked(self, task_id: str, released: bool, now: datetime) -> None:
        if released:
            self.awaiting_release.pop(task_id, None)
        elif task_id in self.awaiting_release:
            self.awaiting_release[task_id] = now

    def _unchanged(self, seen: AnswerSheet) -> bool:
        stored = self.sheets.get(seen.task_id)
        return (
            stored is not None
            and stored.settled is None
            and len(stored.answers) == len(seen.answers)
            and stored.asked == seen.asked
        )


class MemoryOverlapEvents:
    def __init__(self) -> None:
        self.wanted: list[AnswerWanted] = []
        self.aggregated: list[AnswersAggregated] = []
        self.failing = False

    async def answer_wanted(self, event: AnswerWanted) -> None:
        if self.failing:
            raise ConnectionError("kafka is away")
        self.wanted.append(event)

    async def answers_aggregated(self, event: AnswersAggregated) -> None:
        if self.failing:
            raise ConnectionError("kafka is away")
        self.aggregated.append(event)
