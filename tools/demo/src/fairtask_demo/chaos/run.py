"""After a chaos run: read the events back and audit leases and payments."""

import asyncio
from typing import Any

from fairtask.v1 import envelope_pb2
from fairtask_demo.chaos.audit import (
    audit_answers,
    audit_leases,
    audit_payments,
    owed_tasks,
    read_topic,
)
from fairtask_demo.chaos.faults import Faults
from fairtask_demo.chaos.report import chaos_report
from fairtask_demo.model import LOST, PENDING_STATES, RunRecord


async def audited(
    faults: Faults, run: dict[str, Any], record: RunRecord, bootstrap: str
) -> dict[str, Any]:
    assigned, submissions, reviews, overlap, queued = await asyncio.gather(
        read_topic(bootstrap, "tasks.assigned"),
        read_topic(bootstrap, "submissions"),
        read_topic(bootstrap, "reviews"),
        read_topic(bootstrap, "tasks.overlap"),
        read_topic(bootstrap, "tasks.submitted"),
    )
    leases = audit_leases(assigned, submissions, record.tasks)
    submitted = [task for task, final in record.final.items() if final.state == "SUBMITTED"]
    several = set(record.copies.values()) & set(submitted)
    answers = audit_answers(overlap, queued, submissions, several)
    payments = audit_payments(record.statements, owed_tasks(reviews, submitted))
    lost = sorted(
        task
        for task in record.tasks
        if record.final.get(task) is None or record.final[task].state == LOST
    )
    pending = sorted(t for t, final in record.final.items() if final.state in PENDING_STATES)
    unfinished = _traced(lost, record, submissions) + [
        f"{t}: still {record.final[t].state}" for t in pending
    ]
    return chaos_report(faults, run, leases, payments, unfinished, answers)


def _traced(
    lost: list[str], record: RunRecord, submissions: list[envelope_pb2.Envelope]
) -> list[str]:
    """Each lost task with what is known of it, to start looking from."""
    answered = {
        e.submission_received.task_id
        for e in submissions
        if e.WhichOneof("payload") == "submission_received"
    }
    return [
        f"{task}: {'not found' if task in record.final else 'could not be read'}"
        f"{', answered by a worker' if task in answered else ''}"
        for task in lost
    ]
