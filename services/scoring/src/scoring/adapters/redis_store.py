"""Scoring state in Redis: task records, scored marks and per-platform result streams.

Keys (all under the configured prefix, `scoring:` by default):
  task:<task_id>             hash   what scoring needs of a task (first write wins)
  scored:<submission_id>     string verdict, set once the SubmissionScored event is durable
  released:<submission_id>   string stream entry id of the released result
  released:aggregate:<task>  string the same for the aggregate of a task's several answers
  results:<platform_id>      stream released results, read by WatchResults from a cursor
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from scoring.domain.cursor import START, parse_cursor
from scoring.domain.errors import StoreUnavailableError
from scoring.domain.model import Result, ResultEntry, TaskRecord, Verdict
from scoring.domain.overlap import OverlapPolicy

_REMEMBER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# The mark and the append in one script: a crash can never leave one without the other.
_RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV))
redis.call('SET', KEYS[1], id)
return 1
"""

_TASK_FIELDS = (
    "platform_id",
    "client_task_id",
    "task_type",
    "gold_answer",
    "overlap",
    "answer_of",
    "answer_number",
)


def _text(value: object) -> str:
    """redis-py is typed bytes | str; these clients are built with decode_responses off."""
    if isinstance(value, bytes):
        return value.decode()
    return "" if value is None else str(value)


class RedisTaskBook:
    def __init__(self, client: "redis.Redis", prefix: str = "scoring:") -> None:
        self._r = client
        self._p = prefix
        self._remember = client.register_script(_REMEMBER)

    async def remember(self, task: TaskRecord) -> bool:
        fields = [
            "platform_id",
            task.platform_id,
            "client_task_id",
            task.client_task_id,
            "task_type",
            task.task_type,
            "gold_answer",
            task.gold_answer,
            "overlap",
            _policy_doc(task.overlap),
            "answer_of",
            task.answer_of,
            "answer_number",
            str(task.answer_number),
        ]
        return bool(await self._remember(keys=[f"{self._p}task:{task.task_id}"], args=fields))

    async def get(self, task_id: str) -> TaskRecord | None:
        raw = await self._r.hmget(f"{self._p}task:{task_id}", list(_TASK_FIELDS))
        platform_id, client_task_id, task_type, gold_answer, overlap, answer_of, number = (
            _text(v) for v in raw
        )
        if not platform_id:
            return None
        return TaskRecord(
            task_id,
            platform_id,
            client_task_id,
            task_type,
            gold_answer,
            # Records stored before tasks could have several answers have none of these.
            overlap=_policy(overlap),
            answer_of=answer_of,
            answer_number=int(number or 0),
        )


def _policy_doc(policy: OverlapPolicy | None) -> str:
    if policy is None:
        return ""
    return orjson.dumps(
        {
            "min_answers": policy.min_answers,
            "max_answers": policy.max_answers,
            "confidence_target": policy.confidence_target,
            "answer_classes": policy.answer_classes,
            "unknown_worker_quality": policy.unknown_worker_quality,
        }
    ).decode()


def _policy(doc: str) -> OverlapPolicy | None:
    return OverlapPolicy(**orjson.loads(doc)) if doc else None


class RedisScoreMarks:
    def __init__(self, client: "redis.Redis", prefix: str = "scoring:") -> None:
        self._r = client
        self._p = prefix

    async def is_scored(self, submission_id: str) -> bool:
        return bool(await self._r.exists(f"{self._p}scored:{submission_id}"))

    async def mark_scored(self, submission_id: str, verdict: Verdict) -> None:
        await self._r.set(f"{self._p}scored:{submission_id}", verdict.value)


class RedisResultLog:
    def __init__(self, client: "redis.Redis", prefix: str = "scoring:") -> None:
        self._r = client
        self._p = prefix
        self._release = client.register_script(_RELEASE)

    def _stream(self, platform_id: str) -> str:
        return f"{self._p}results:{platform_id}"

    async def release(self, result: Result) -> bool:
        fields = result_fields(result)
        keys = [f"{self._p}released:{result.release_key}", self._stream(result.platform_id)]
        return bool(await self._release(keys=keys, args=fields))

    async def all_released(self, submission_ids: Sequence[str]) -> bool:
        if not submission_ids:
            return True
        keys = [f"{self._p}released:{sid}" for sid in submission_ids]
        return int(await self._r.exists(*keys)) == len(keys)

    async def read(
        self, platform_id: str, after: str, limit: int, block_s: float
    ) -> list[ResultEntry]:
        if after:
            parse_cursor(after)
        # BLOCK 0 would mean "forever" to Redis, so a non-positive wait means no BLOCK at all.
        block_ms = max(int(block_s * 1000), 1) if block_s > 0 else None
        stream = self._stream(platform_id)
        try:
            # Holds one pooled connection for up to block_ms; cancellation disconnects it.
            reply = await self._r.xread({stream: after or START}, count=limit, block=block_ms)
        except (RedisConnectionError, RedisTimeoutError) as error:
            raise StoreUnavailableError(f"reading results: {error}") from error
        return [_entry(platform_id, entry_id, fields) for entry_id, fields in _entries(reply)]


def result_fields(result: Result) -> list[str | bytes]:
    """A released result as the field/value list of its stream entry."""
    return [
        "submission_id",
        result.submission_id,
        "task_id",
        result.task_id,
        "client_task_id",
        result.client_task_id,
        "task_type",
        result.task_type,
        "worker_id",
        result.worker_id,
        "answer",
        result.answer,
        "released_at",
        result.released_at.isoformat(),
        "aggregate",
        "1" if result.aggregate else "0",
        "confidence",
        repr(result.confidence),
        "answers",
        str(result.answers),
        "confident",
        "1" if result.confident else "0",
    ]


def _entries(reply: Any) -> Sequence[tuple[bytes, Mapping[bytes, bytes]]]:
    """The one stream's entries from an XREAD reply (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    if isinstance(reply, Mapping):
        batches = list(reply.values())
        entries = batches[0][0] if batches else []
    else:
        entries = reply[0][1]
    return [(entry_id, fields) for entry_id, fields in entries]


def _entry(platform_id: str, entry_id: bytes, fields: Mapping[bytes, bytes]) -> ResultEntry:
    def text(name: str) -> str:
        return _text(fields.get(name.encode()))

    return ResultEntry(
        cursor=_text(entry_id),
        result=Result(
            submission_id=text("submission_id"),
            platform_id=platform_id,
            task_id=text("task_id"),
            client_task_id=text("client_task_id"),
            task_type=text("task_type"),
            worker_id=text("worker_id"),
            answer=fields.get(b"answer", b""),
            released_at=datetime.fromisoformat(text("released_at")),
            # Entries released before aggregates existed lack these: single answers.
            aggregate=text("aggregate") == "1",
            confidence=float(text("confidence") or 0),
            answers=int(text("answers") or 0),
            confident=text("confident") == "1",
        ),
    )
