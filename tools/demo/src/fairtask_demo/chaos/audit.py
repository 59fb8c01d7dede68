"""What the events and the ledger say happened to each task of the run, after the faults.

- A task leased to two workers at once: on `tasks.assigned` (keyed by task, so in order per
  task) a new lease starts while an earlier one of that task was neither released nor
  submitted; or `submissions` holds answers to one task from two different leases.
- Payments: each task whose work is owed pay is paid exactly once (one TASK_PAY line across
  every worker's statement); more is a duplicate payment, none a missing one. Owed: its review
  says so on `reviews` (approved, kept, or granted on appeal), or it has no review step yet
  (work submitted is owed unless a rejection that is not kept says otherwise).
Redelivered events (the same lease or submission twice) are what at-least-once delivery
promises, and count once.
"""

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from fairtask.v1 import envelope_pb2, events_pb2
from fairtask_demo.model import Statement
from fairtask_runtime.envelope import PoisonMessageError, decode

_READ_TIMEOUT_S = 60.0
_UNPAID_DISPUTE = frozenset(
    {
        events_pb2.REVIEW_STATE_REJECTED,
        events_pb2.REVIEW_STATE_APPEALED,
        events_pb2.REVIEW_STATE_APPEAL_UPHELD,
    }
)


@dataclass(frozen=True)
class LeaseAudit:
    leases: int
    double_leases: int  # tasks with two leases at once
    examples: tuple[str, ...]


@dataclass(frozen=True)
class PaymentAudit:
    duplicate_payments: int
    missing_payments: int
    examples: tuple[str, ...]


async def read_topic(bootstrap: str, topic: str) -> list[envelope_pb2.Envelope]:
    """Every decodable envelope on `topic`, from the beginning to the end it has now."""
    # Without a group, a consumer given a topic is assigned all of its partitions.
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READ_TIMEOUT_S
        while not consumer.assignment():
            if loop.time() > deadline:
                raise TimeoutError(f"no partitions of {topic} in {_READ_TIMEOUT_S} s")
            await asyncio.sleep(0.1)
        partitions = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        envelopes: list[envelope_pb2.Envelope] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            if loop.time() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {_READ_TIMEOUT_S} s")
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        envelopes.append(decode(record.value))
                    except PoisonMessageError:
                        continue  # counted by the services' DLQ metrics, not here
        return envelopes
    finally:
        await consumer.stop()


def audit_leases(
    assigned: Iterable[envelope_pb2.Envelope],
    submissions: Iterable[envelope_pb2.Envelope],
    tasks: Mapping[str, object],
) -> LeaseAudit:
    """`assigned` in topic order (per task, the order of the task's events)."""
    answered: dict[str, set[str]] = defaultdict(set)  # task -> leases with an answer
    for envelope in submissions:
        if envelope.WhichOneof("payload") == "submission_received":
            answer = envelope.submission_received
            answered[answer.task_id].add(answer.lease_id)
    seen: set[str] = set()
    open_lease: dict[str, str] = {}
    doubled = {task for task, leases in answered.items() if task in tasks and len(leases) > 1}
    for envelope in assigned:
        kind = envelope.WhichOneof("payload")
        if kind == "task_assigned":
            lease = envelope.task_assigned
            if lease.task_id not in tasks or lease.lease_id in seen:
                continue
            seen.add(lease.lease_id)
            earlier = open_lease.get(lease.task_id)
            if earlier is not None and earlier not in answered[lease.task_id]:
                doubled.add(lease.task_id)
            open_lease[lease.task_id] = lease.lease_id
        elif kind == "lease_released":
            released = envelope.lease_released
            if open_lease.get(released.task_id) == released.lease_id:
                del open_lease[released.task_id]
    return LeaseAudit(len(seen), len(doubled), tuple(sorted(doubled)[:10]))


def owed_tasks(reviews: Iterable[envelope_pb2.Envelope], submitted: Iterable[str]) -> set[str]:
    """The submitted tasks whose work must be paid: all of them but those whose review stands
    at an unpaid rejection (not kept, appealed or upheld) and was never paid. A review still
    pending is owed: the deadline approves it."""
    paid: set[str] = set()
    disputed: dict[str, bool] = {}
    for envelope in reviews:  # in topic order: per worker, so per task, the order of steps
        if envelope.WhichOneof("payload") != "submission_reviewed":
            continue
        step = envelope.submission_reviewed
        if step.paid:
            paid.add(step.task_id)  # once paid, always paid
        disputed[step.task_id] = step.state in _UNPAID_DISPUTE
    return {task for task in submitted if task in paid or not disputed.get(task, False)}


def audit_payments(statements: Mapping[str, Statement], submitted: Iterable[str]) -> PaymentAudit:
    paid = Counter(
        line.task_id
        for statement in statements.values()
        for line in statement.lines
        if line.kind == "TASK_PAY"
    )
    submitted = set(submitted)
    duplicates = {task: n - 1 for task, n in paid.items() if n > 1}
    missing = submitted - paid.keys()
    examples = [f"{t} paid {n + 1} times" for t, n in sorted(duplicates.items())[:5]]
    examples += [f"{t} never paid" for t in sorted(missing)[:5]]
    return PaymentAudit(sum(duplicates.values()), len(missing), tuple(examples))


@dataclass(frozen=True)
class AnswerAudit:
    """Tasks several workers answer, followed through the events: a further answer scoring
    asked for must be queued by the dispatcher and answered by a worker, and each task must
    end in an aggregate. Each count is of tasks stuck at that stage at the end."""

    asked: int
    never_queued: int
    never_answered: int
    never_aggregated: int
    examples: tuple[str, ...]


def audit_answers(
    overlap: Iterable[envelope_pb2.Envelope],
    submitted: Iterable[envelope_pb2.Envelope],
    submissions: Iterable[envelope_pb2.Envelope],
    several: Iterable[str],
) -> AnswerAudit:
    """`several`: the platform tasks (answered at least once) whose type asks for several."""
    wanted: dict[str, str] = {}  # copy -> its platform task
    aggregated: set[str] = set()
    for envelope in overlap:
        kind = envelope.WhichOneof("payload")
        if kind == "answer_wanted":
            wanted[envelope.answer_wanted.answer_task_id] = envelope.answer_wanted.task_id
        elif kind == "answers_aggregated":
            aggregated.add(envelope.answers_aggregated.task_id)
    queued = {
        e.task_submitted.task_id for e in submitted if e.WhichOneof("payload") == "task_submitted"
    }
    answered = {
        e.submission_received.task_id
        for e in submissions
        if e.WhichOneof("payload") == "submission_received"
    }
    stuck: dict[str, list[str]] = defaultdict(list)
    waiting: set[str] = set()  # tasks already counted at an earlier stage
    for copy, task in sorted(wanted.items()):
        if copy not in queued:
            stuck["never_queued"].append(f"{task}: answer copy {copy} asked, never queued")
        elif copy not in answered:
            stuck["never_answered"].append(f"{task}: answer copy {copy} queued, never answered")
        else:
            continue
        waiting.add(task)
    for task in sorted(set(several) - aggregated - waiting):
        stuck["never_aggregated"].append(f"{task}: answered, never aggregated")
    examples = [line for lines in stuck.values() for line in lines[:5]]
    return AnswerAudit(
        asked=len(wanted),
        never_queued=len(stuck["never_queued"]),
        never_answered=len(stuck["never_answered"]),
        never_aggregated=len(stuck["never_aggregated"]),
        examples=tuple(examples),
    )
