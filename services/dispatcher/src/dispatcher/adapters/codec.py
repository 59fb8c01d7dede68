"""Translation between the dispatcher's domain objects and protobuf."""

from datetime import UTC, datetime

import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from dispatcher.domain.model import Overlap, Task, TaskType
from dispatcher.service_layer.sessions import Hello
from fairtask.v1 import events_pb2
from fairtask_runtime.envelope import timestamp_of


def to_timestamp(moment: datetime) -> Timestamp:
    return timestamp_of(moment)


def from_timestamp(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def task_to_pb(task: Task) -> events_pb2.TaskSubmitted:
    message = events_pb2.TaskSubmitted(
        task_id=task.task_id,
        platform_id=task.platform_id,
        client_task_id=task.client_task_id,
        task_type=task.task_type.name,
        pool=task.pool,
        purpose=task.task_type.purpose,
        payload=task.payload,
        effort_seconds=task.task_type.effort_seconds,
        price_micros=task.task_type.price_micros,
        skills=list(task.task_type.skills),
        sensitive=task.task_type.sensitive,
        gold_answer=task.gold_answer,
        submitted_at=to_timestamp(task.submitted_at),
        answer_of=task.answer_of,
        answer_number=task.answer_number if task.answer_of else 0,
        answered_by=list(task.answered_by),
    )
    if task.deadline is not None:
        message.deadline.CopyFrom(to_timestamp(task.deadline))
    if task.task_type.overlap is not None:
        message.overlap.CopyFrom(overlap_to_pb(task.task_type.overlap))
    return message


def overlap_to_pb(overlap: Overlap) -> events_pb2.Overlap:
    return events_pb2.Overlap(
        min_answers=overlap.min_answers,
        max_answers=overlap.max_answers,
        confidence_target=overlap.confidence_target,
        answer_classes=overlap.answer_classes,
    )


def overlap_from_pb(message: events_pb2.Overlap) -> Overlap:
    return Overlap(
        min_answers=message.min_answers,
        max_answers=message.max_answers,
        confidence_target=message.confidence_target,
        # Unset (0): a yes/no question.
        answer_classes=message.answer_classes or 2,
    )


def task_from_pb(message: events_pb2.TaskSubmitted) -> Task:
    return Task(
        task_id=message.task_id,
        platform_id=message.platform_id,
        client_task_id=message.client_task_id,
        task_type=TaskType(
            name=message.task_type,
            purpose=message.purpose,
            price_micros=message.price_micros,
            effort_seconds=message.effort_seconds,
            skills=tuple(message.skills),
            sensitive=message.sensitive,
            overlap=overlap_from_pb(message.overlap) if message.HasField("overlap") else None,
        ),
        pool=message.pool,
        payload=message.payload,
        deadline=from_timestamp(message.deadline) if message.HasField("deadline") else None,
        gold_answer=message.gold_answer,
        submitted_at=from_timestamp(message.submitted_at),
        answer_of=message.answer_of,
        answer_number=message.answer_number if message.answer_of else 1,
        answered_by=tuple(message.answered_by),
    )


def task_from_bytes(raw: bytes) -> Task:
    message = events_pb2.TaskSubmitted()
    message.ParseFromString(raw)
    return task_from_pb(message)


def hello_to_json(hello: Hello) -> bytes:
    return orjson.dumps(
        {
            "worker_id": hello.worker_id,
            "region": hello.region,
            "skills": sorted(hello.skills),
            "time_zone": hello.time_zone,
            "availability": list(hello.availability),
            "sensitive_opt_in": hello.sensitive_opt_in,
            "excluded_pools": sorted(hello.excluded_pools),
        }
    )


def hello_from_json(raw: bytes | str) -> Hello:
    d = orjson.loads(raw)
    return Hello(
        worker_id=d["worker_id"],
        region=d["region"],
        skills=frozenset(d["skills"]),
        time_zone=d["time_zone"],
        availability=tuple(d["availability"]),
        sensitive_opt_in=d["sensitive_opt_in"],
        excluded_pools=frozenset(d.get("excluded_pools", ())),
    )
