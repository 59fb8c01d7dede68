"""Answer sheets of tasks with several answers, in Redis.

Keys (under the prefix, `scoring:` by default):
  answers:<task_id>        hash  worker -> JSON {answer, submission_id, answer_number}
  answer-sheet:<task_id>   hash  asked (answers asked for; absent: 1), wanted (JSON of the
                                 last AnswerWanted), settled (JSON of the AnswersAggregated),
                                 pending (the step stored but not yet announced)
  answer-sheets:outbox     zset  task ids with a pending step, by when it was stored (ms)
  answer-sheets:unreleased zset  settled task ids whose aggregate is not released yet, by
                                 when its release was last tried (ms)
  answer-sheets:asked      zset  unsettled task ids by when they last asked for an answer (ms)

Every write is one script: recording an answer checks the sheet is not settled, and a step
(ask or settle) is stored only if the sheet still holds the number of answers and the asked
count it was decided from, so of two handlers deciding from the same sheet one wins.
"""

from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as redis

from scoring.domain.answers import AGGREGATED_STEP, AnswerSheet, GivenAnswer, by_order, wanted_step
from scoring.domain.events import AnswersAggregated, AnswerWanted

_RECORD = """
if redis.call('HEXISTS', KEYS[1], 'settled') == 0 then
  redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
end
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""

_READ = """
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""

# Whether the stored sheet is still unsettled with the answer count and asked count a step was
# decided from (ARGV[1], ARGV[2]).
_UNCHANGED = """
local function unchanged()
  return redis.call('HEXISTS', KEYS[1], 'settled') == 0
    and redis.call('HLEN', KEYS[2]) == tonumber(ARGV[1])
    and tonumber(redis.call('HGET', KEYS[1], 'asked') or '1') == tonumber(ARGV[2])
end
"""

_STEP = (
    _UNCHANGED
    + """
if not unchanged() then return 0 end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4], 'pending', ARGV[5], 'asked', ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[8])
if ARGV[3] == 'settled' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[8])
  redis.call('ZREM', KEYS[5], ARGV[8])
else
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[8])
end
return 1
"""
)

_ASK_AGAIN = (
    _UNCHANGED
    + """
if not (unchanged() and tonumber(ARGV[1]) < tonumber(ARGV[2])) then
  redis.call('ZREM', KEYS[3], ARGV[5])
  return 0
end
redis.call('HSET', KEYS[1], 'wanted', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
return 1
"""
)

_ANNOUNCED = """
if redis.call('HGET', KEYS[1], 'pending') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'pending')
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 1
"""


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(flat: list[Any]) -> dict[str, bytes]:
    """A hash from HGETALL inside a script: a flat [field, value, ...] list."""
    return {_text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}


def _wanted_doc(wanted: AnswerWanted) -> bytes:
    return orjson.dumps({**asdict(wanted), "answered_by": list(wanted.answered_by)})


def _wanted(doc: bytes) -> AnswerWanted:
    raw = orjson.loads(doc)
    return AnswerWanted(**{**raw, "answered_by": tuple(raw["answered_by"])})


def _aggregated(doc: bytes) -> AnswersAggregated:
    raw = orjson.loads(doc)
    return AnswersAggregated(
        **{
            **raw,
            "submission_ids": tuple(raw["submission_ids"]),
            "unused_task_ids": tuple(raw["unused_task_ids"]),
            "aggregated_at": datetime.fromisoformat(raw["aggregated_at"]),
        }
    )


def _sheet(task_id: str, reply: list[Any]) -> AnswerSheet | None:
    sheet_raw, answers_raw = _pairs(reply[0]), _pairs(reply[1])
    if not sheet_raw and not answers_raw:
        return None
    answers = []
    for worker_id, doc in answers_raw.items():
        given = orjson.loads(doc)
        answers.append(
            GivenAnswer(
                worker_id,
                given["answer"],
                given["submission_id"],
                given["answer_number"],
                given.get("spelling", ""),
            )
        )
    return AnswerSheet(
        task_id=task_id,
        answers=by_order(answers),
        asked=int(sheet_raw.get("asked", b"1")),
        wanted=_wanted(sheet_raw["wanted"]) if "wanted" in sheet_raw else None,
        settled=_aggregated(sheet_raw["settled"]) if "settled" in sheet_raw else None,
        pending=_text(sheet_raw.get("pending", b"")),
    )


class RedisAnswerBook:
    def __init__(self, client: "redis.Redis", prefix: str = "scoring:") -> None:
        self._r = client
        self._p = prefix
        self._record = client.register_script(_RECORD)
        self._read = client.register_script(_READ)
        self._step = client.register_script(_STEP)
        self._announced = client.register_script(_ANNOUNCED)
        self._ask_again = client.register_script(_ASK_AGAIN)

    def _keys(self, task_id: str) -> list[str]:
        return [f"{self._p}answer-sheet:{task_id}", f"{self._p}answers:{task_id}"]

    @property
    def _outbox(self) -> str:
        return f"{self._p}answer-sheets:outbox"

    @property
    def _unreleased(self) -> str:
        return f"{self._p}answer-sheets:unreleased"

    @property
    def _asked(self) -> str:
        return f"{self._p}answer-sheets:asked"

    async def record(self, task_id: str, answer: GivenAnswer) -> AnswerSheet:
        doc = orjson.dumps(
            {
                "answer": answer.answer,
                "submission_id": answer.submission_id,
                "answer_number": answer.answer_number,
                "spelling": answer.spelling,
            }
        )
        reply = await self._record(keys=self._keys(task_id), args=[answer.worker_id, doc])
        sheet = _sheet(task_id, reply)
        assert sheet is not None  # the script just wrote, or found the task settled
        return sheet

    async def get(self, task_id: str) -> AnswerSheet | None:
        return _sheet(task_id, await self._read(keys=self._keys(task_id)))

    async def ask(self, seen: AnswerSheet, wanted: AnswerWanted, now: datetime) -> bool:
        step = wanted_step(wanted.answer_number)
        return await self._store(
            seen, "wanted", _wanted_doc(wanted), step, wanted.answer_number, now
        )

    async def asked_before(self, older_than: datetime, limit: int) -> list[str]:
        raw = await self._r.zrangebyscore(self._asked, "-inf", _ms(older_than), start=0, num=limit)
        return [_text(member) for member in raw]

    async def stop_asking(self, task_id: str) -> None:
        await self._r.zrem(self._asked, task_id)

    async def ask_again(self, seen: AnswerSheet, wanted: AnswerWanted, now: datetime) -> bool:
        keys = [*self._keys(seen.task_id), self._asked]
        args: list[str | bytes | int] = [
            len(seen.answers),
            seen.asked,
            _wanted_doc(wanted),
            _ms(now),
            seen.task_id,
        ]
        return bool(await self._ask_again(keys=keys, args=args))

    async def settle(self, seen: AnswerSheet, aggregated: AnswersAggregated, now: datetime) -> bool:
        doc = orjson.dumps(
            {
                **asdict(aggregated),
                "submission_ids": list(aggregated.submission_ids),
                "unused_task_ids": list(aggregated.unused_task_ids),
                "aggregated_at": aggregated.aggregated_at.isoformat(),
            }
        )
        return await self._store(seen, "settled", doc, AGGREGATED_STEP, seen.asked, now)

    async def _store(
        self, seen: AnswerSheet, field: str, doc: bytes, step: str, asked: int, now: datetime
    ) -> bool:
        keys = [*self._keys(seen.task_id), self._outbox, self._unreleased, self._asked]
        args: list[str | bytes | int] = [
            len(seen.answers),
            seen.asked,
            field,
            doc,
            step,
            asked,
            _ms(now),
            seen.task_id,
        ]
        return bool(await self._step(keys=keys, args=args))

    async def announced(self, task_id: str, step: str) -> None:
        keys = [self._keys(task_id)[0], self._outbox]
        await self._announced(keys=keys, args=[step, task_id])

    async def unannounced(self, older_than: datetime, limit: int) -> list[str]:
        raw = await self._r.zrangebyscore(self._outbox, "-inf", _ms(older_than), start=0, num=limit)
        return [_text(member) for member in raw]

    async def unreleased(self, older_than: datetime, limit: int) -> list[str]:
        raw = await self._r.zrangebyscore(
            self._unreleased, "-inf", _ms(older_than), start=0, num=limit
        )
        return [_text(member) for member in raw]

    async def checked(self, task_id: str, released: bool, now: datetime) -> None:
        if released:
            await self._r.zrem(self._unreleased, task_id)
        else:
            # XX: only a task still waiting is moved to the back; a released one stays gone.
            await self._r.zadd(self._unreleased, {task_id: _ms(now)}, xx=True)
