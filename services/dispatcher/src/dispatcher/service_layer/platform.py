"""Platform operations: define task types, submit, look up and cancel tasks; further answers
to tasks several workers answer."""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from dispatcher.domain.errors import (
    BacklogFullError,
    BelowPayFloorError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SubmissionsUnavailableError,
    TaskRecordsUnavailableError,
    Violation,
)
from dispatcher.domain.events import OfferClosed, OfferOutcome, TaskCancelled, TaskSubmitted
from dispatcher.domain.model import (
    NewTask,
    Offer,
    Task,
    TaskState,
    TaskStatus,
    TaskType,
    pool_of,
    task_id_for,
)
from dispatcher.domain.validation import (
    Limits,
    batch_violations,
    cancel_violations,
    fingerprint,
    task_type_violations,
)
from dispatcher.service_layer.ports import (
    Accepted,
    ClientTaskIds,
    Escrow,
    EventPublisher,
    IdState,
    TaskOutcome,
    TaskStore,
    TaskTypeStore,
)
from dispatcher.service_layer.transitions import DEADLINE_PASSED
from fairtask_runtime.answers import answer_task_id, answer_task_ids
from fairtask_runtime.clock import Clock
from fairtask_runtime.pay_floor import DEFAULT_FLOOR_MICROS_PER_HOUR, minimum_price_micros

# Tells dispatch a task was cancelled, with the offer that was withdrawn from a worker, if any.
CancelledHook = Callable[[str, Offer | None], Awaitable[None]]

# The reason TaskCancelled gives when scoring asks for an answer whose copy was withdrawn first.
ASKED_AFTER_WITHDRAWAL = "withdrawn before this answer was asked for"
_WITHDRAWN = (TaskState.CANCELLED, TaskState.EXPIRED)


@dataclass(frozen=True)
class SubmitTasks:
    platform_id: str
    tasks: Sequence[NewTask]


@dataclass(frozen=True)
class WantAnswer:
    """Scoring asks for answer `answer_number` (2, 3, ...) to a platform's task."""

    task_id: str
    platform_id: str
    answer_number: int
    answered_by: Sequence[str]


@dataclass(frozen=True)
class BacklogBound:
    """Backpressure: how many tasks of one platform may wait (accepted, not yet offered), and
    how long a platform over the bound is asked to wait before trying again."""

    max_waiting: int = 100_000
    retry_after_s: float = 5.0


@dataclass(frozen=True)
class SubmittedTask:
    client_task_id: str
    task_id: str
    duplicate: bool


class PlatformHandlers:
    def __init__(
        self,
        task_types: TaskTypeStore,
        tasks: TaskStore,
        client_tasks: ClientTaskIds,
        events: EventPublisher,
        clock: Clock,
        limits: Limits,
        on_cancelled: CancelledHook,
        escrow: Escrow,
        backlog: BacklogBound | None = None,
        pay_floor_micros_per_hour: int = DEFAULT_FLOOR_MICROS_PER_HOUR,
    ) -> None:
        self._task_types = task_types
        self._tasks = tasks
        self._client_tasks = client_tasks
        self._events = events
        self._clock = clock
        self._limits = limits
        self._on_cancelled = on_cancelled
        self._escrow = escrow
        self._backlog = backlog or BacklogBound()
        self._pay_floor_micros_per_hour = pay_floor_micros_per_hour

    async def define_task_type(self, platform_id: str, task_type: TaskType) -> TaskType:
        """Stores the task type. Raises InvalidInputError for a malformed one, and
        BelowPayFloorError when its one worldwide price cannot pay the floor for its
        estimated median effort; either way nothing is stored."""
        violations = task_type_violations(task_type, self._limits)
        if violations:
            raise InvalidInputError(violations)
        minimum = minimum_price_micros(task_type.effort_seconds, self._pay_floor_micros_per_hour)
        if task_type.price_micros < minimum:
            raise BelowPayFloorError(
                task_type.price_micros, minimum, self._pay_floor_micros_per_hour
            )
        await self._task_types.put(platform_id, task_type)
        return task_type

    async def submit_tasks(self, command: SubmitTasks) -> list[SubmittedTask]:
        """Accepts the whole batch or none of it; a repeat of an accepted task is a no-op.
        Each new task's price is held from the platform's escrow first, so no unfunded task
        is ever dispatched. Raises InvalidInputError, BacklogFullError when the new tasks
        would take the platform's waiting tasks over the bound, InsufficientEscrowError,
        EscrowUnavailableError or SubmissionsUnavailableError."""
        now = self._clock.now()
        platform_id = command.platform_id
        names = sorted({t.task_type for t in command.tasks})
        ids = [t.client_task_id for t in command.tasks]
        # Three independent reads, made together: one round trip's wait instead of three.
        task_types, earlier, waiting = await asyncio.gather(
            self._task_types.get_many(platform_id, names),
            self._client_tasks.recorded(platform_id, ids),
            self._tasks.backlog(platform_id),
        )
        prints = [fingerprint(t) for t in command.tasks]
        # A repeat of what was accepted (same id, same content, deadline included) is the task
        # it was, due or not.
        repeats = {
            i
            for i, (client_id, printed) in enumerate(zip(ids, prints, strict=True))
            if client_id in earlier and earlier[client_id].fingerprint == printed
        }
        violations = batch_violations(command.tasks, task_types, now, self._limits, repeats)
        violations += _reused(ids, prints, {c: r.fingerprint for c, r in earlier.items()})
        published = {c for c, r in earlier.items() if r.state is IdState.PUBLISHED}
        new_count = sum(1 for client_id in ids if client_id not in published)
        if new_count > self._backlog.max_waiting:
            violations.append(
                Violation("tasks", f"at most {self._backlog.max_waiting} tasks may wait at once")
            )
        if violations:
            raise InvalidInputError(violations)
        self._check_backlog(waiting, new_count)

        results: list[SubmittedTask] = []
        fresh: list[Accepted] = []
        new_tasks: list[TaskSubmitted] = []
        for task, printed in zip(command.tasks, prints, strict=True):
            task_id = task_id_for(platform_id, task.client_task_id)
            duplicate = task.client_task_id in published
            results.append(SubmittedTask(task.client_task_id, task_id, duplicate))
            if duplicate:
                continue
            accepted = _build(platform_id, task_id, task, task_types[task.task_type], now)
            new_tasks.append(TaskSubmitted(accepted))
            fresh.append(Accepted(task.client_task_id, task_id, printed, task.task_type))
        if not fresh:
            return results
        # Held per task id (per answer's copy), so a retry after a failure below holds
        # nothing twice; every answer a task may need is funded before the first is asked.
        await self._escrow.hold(
            platform_id, [hold for e in new_tasks for hold in _holds_for(e.task)]
        )
        # Bound to this content for good from here on: the tasks may be out. Of two calls
        # racing with other content under one id, the second stops here, publishing nothing.
        # An id a call began to publish with this content (one that failed, or is under way)
        # is published again.
        _refuse_reused(ids, prints, await self._client_tasks.start_publishing(platform_id, fresh))
        # Durable in Kafka before we answer; the deterministic task ids make a retry after a
        # partial failure here collapse into the same tasks downstream.
        await self._events.publish_many(new_tasks)
        await asyncio.gather(
            self._tasks.record_accepted(platform_id, fresh),
            self._client_tasks.mark_published(platform_id, fresh),
        )
        return results

    def _check_backlog(self, waiting: int, new_count: int) -> None:
        # Checked before anything is accepted, so a refused batch leaves nothing behind. Two
        # concurrent calls may both pass and overshoot by a batch: the bound is a soft one.
        if new_count and waiting + new_count > self._backlog.max_waiting:
            raise BacklogFullError(waiting, self._backlog.max_waiting, self._backlog.retry_after_s)

    async def get_task(self, platform_id: str, task_id: str) -> TaskStatus:
        """The task's state while Redis keeps it (in play, and for a while once done), then
        what became of it, from PostgreSQL. Raises NotFoundError, or
        TaskRecordsUnavailableError when only PostgreSQL could answer and cannot be reached."""
        status = await self._tasks.status(platform_id, task_id)
        return status or await self._recorded_outcome(platform_id, task_id)

    async def tasks_done(self, outcomes: Sequence[TaskOutcome]) -> None:
        """Keeps what became of these tasks for GetTask, after Redis forgets them."""
        await self._client_tasks.record_outcomes(outcomes)

    async def cancel_task(self, platform_id: str, task_id: str, reason: str) -> TaskState:
        """Withdraws a task not yet leased. For a task several workers answer: asks for no
        further answer (the copy waiting or offered is withdrawn and those not asked for yet
        never will be, their escrow released), while an answer being worked on is finished
        and paid. Once Redis has let the task go, what became of it decides. Raises
        InvalidInputError, NotFoundError, ConflictError for a single-answer task already leased
        or done, or TaskRecordsUnavailableError when only PostgreSQL could answer and cannot be
        reached."""
        if violations := cancel_violations(reason, self._limits):
            raise InvalidInputError(violations)
        if reason == DEADLINE_PASSED:  # what an expiry says: a platform's cancel never reads so
            reason = f"cancelled: {reason}"
        status = await self._tasks.status(platform_id, task_id)
        if status is None:
            return await self._cancel_let_go(platform_id, task_id)
        answers = await self._answers_of(platform_id, task_id, status)
        if answers == 1:
            return await self._cancel_one(platform_id, task_id, reason)
        for number, copy_id in enumerate(answer_task_ids(task_id, answers), start=1):
            try:
                await self._cancel_one(
                    platform_id, copy_id, reason, answer_of=task_id if number > 1 else ""
                )
            except ConflictError:
                continue  # leased or answered: that answer stands
        return TaskState.CANCELLED

    async def _cancel_let_go(self, platform_id: str, task_id: str) -> TaskState:
        """A task Redis has let go, done long enough ago: cancelled already is the answer a
        repeat gets, anything else is too late."""
        done = await self._recorded_outcome(platform_id, task_id)
        if done.state is TaskState.CANCELLED:
            return TaskState.CANCELLED
        raise ConflictError(f"task is {done.state.value}; it can no longer be cancelled")

    async def _recorded_outcome(self, platform_id: str, task_id: str) -> TaskStatus:
        """What became of the platform's task, from PostgreSQL. Raises NotFoundError, or
        TaskRecordsUnavailableError while PostgreSQL cannot be reached."""
        try:
            status = await self._client_tasks.outcome(platform_id, task_id)
        except SubmissionsUnavailableError as error:
            raise TaskRecordsUnavailableError(error.reason) from error
        if status is None:
            raise _unknown(task_id)
        return status

    async def _answers_of(self, platform_id: str, task_id: str, status: TaskStatus) -> int:
        if status.answers is not None:
            return status.answers
        task = await self._tasks.task(task_id)  # queued by an earlier version
        if task is not None:
            return task.answers
        # Accepted, still on its way to the queue: its type says how many answers were held.
        types = await self._task_types.get_many(platform_id, [status.task_type])
        task_type = types.get(status.task_type)
        return task_type.most_answers if task_type is not None else 1

    async def _cancel_one(
        self, platform_id: str, task_id: str, reason: str, answer_of: str = ""
    ) -> TaskState:
        """`answer_of`: the platform's task, when `task_id` is a further answer's copy (which
        is cancelled ahead if not asked for yet)."""
        outcome = await self._tasks.cancel(platform_id, task_id, ahead=bool(answer_of))
        if outcome.withdrawn is not None:
            offer = outcome.withdrawn
            await self._events.publish(
                OfferClosed(offer.offer_id, task_id, offer.worker_id, OfferOutcome.WITHDRAWN)
            )
        if outcome.state is TaskState.CANCELLED:
            await self._on_cancelled(task_id, outcome.withdrawn)
            # Also for a copy cancelled ahead: payroll releases its escrow hold, and scoring
            # settles the task with the answers it has if it was waiting for this one.
            await self._events.publish(TaskCancelled(task_id, platform_id, reason, answer_of))
        return outcome.state

    async def want_answer(self, wanted: WantAnswer) -> bool:
        """Scoring wants one more worker's answer: queues the task's copy for it, for anyone
        but those who answered. Idempotent by the copy's id (a repeat is dropped when
        ingested). False, changing nothing, when the task is unknown, another platform's, or
        cannot have that many answers. The copy's price was held when the task was accepted."""
        task = await self._tasks.task(wanted.task_id)
        if (
            task is None
            or task.platform_id != wanted.platform_id
            or task.answer_of
            or task.gold_answer
            or not 2 <= wanted.answer_number <= task.task_type.most_answers
        ):
            return False
        copy_id = answer_task_id(task.task_id, wanted.answer_number)
        copy_status = await self._tasks.status(task.platform_id, copy_id)
        if copy_status is not None and copy_status.state in _WITHDRAWN:
            # Cancelled ahead (the platform withdrew the task, or its deadline passed) before
            # scoring asked: said again, now that scoring waits for it, so it settles the task
            # with the answers it has instead of waiting for ever.
            await self._events.publish(
                TaskCancelled(copy_id, task.platform_id, ASKED_AFTER_WITHDRAWAL, task.task_id)
            )
            return True
        copy = dataclasses.replace(
            task,
            task_id=copy_id,
            answer_of=task.task_id,
            answer_number=wanted.answer_number,
            answered_by=tuple(sorted(set(wanted.answered_by))),
            # Arrives now for the scheduler's fairness; keeps the platform's deadline.
            submitted_at=self._clock.now(),
        )
        await self._events.publish(TaskSubmitted(copy))
        return True

    async def answers_settled(
        self, task_id: str, answers: int, unused_task_ids: Sequence[str]
    ) -> None:
        """Scoring settled a task several workers answer, with `answers` of them: no copy
        will be built from it again, so it and its copies are kept only as any task done.
        Idempotent."""
        answered = answer_task_ids(task_id, max(answers, 1))[1:]
        await self._tasks.settle(task_id, [*answered, *unused_task_ids])


def _unknown(task_id: str) -> NotFoundError:
    # The same words for another platform's task, which must not be told apart.
    return NotFoundError(f"task {task_id} is unknown")


def _reused(ids: list[str], prints: list[str], recorded: dict[str, str]) -> list[Violation]:
    return [
        Violation(f"tasks[{i}].client_task_id", "already used for a task with different content")
        for i, (client_id, printed) in enumerate(zip(ids, prints, strict=True))
        if client_id in recorded and recorded[client_id] != printed
    ]


def _refuse_reused(ids: list[str], prints: list[str], recorded: dict[str, str]) -> None:
    lost = _reused(ids, prints, recorded)
    if lost:
        raise InvalidInputError(lost)


def _holds_for(task: Task) -> list[tuple[str, int]]:
    """(task id, price) for each answer the task may need; gold tasks are answered once."""
    price = task.task_type.price_micros
    return [(copy_id, price) for copy_id in answer_task_ids(task.task_id, task.answers)]


def _build(
    platform_id: str, task_id: str, task: NewTask, task_type: TaskType, now: datetime
) -> Task:
    return Task(
        task_id=task_id,
        platform_id=platform_id,
        client_task_id=task.client_task_id,
        task_type=task_type,
        pool=pool_of(platform_id, task_type.name),
        payload=task.payload,
        deadline=task.deadline,
        gold_answer=task.gold_answer,
        submitted_at=now,
    )
