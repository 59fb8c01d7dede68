"""Reviews in Redis: each one a hash, with the indexes the platform, the worker and the
deadline sweeper read, and an outbox of steps not yet announced on Kafka.

Keys (under the prefix, `scoring:` by default):
  review:<submission_id>          hash  state, doc (JSON of the review but its answer), answer
  reviews:due                     zset  open reviews by deadline (ms) -> submission id
  reviews:outbox                  zset  "<submission id>|<state>" steps to announce, by time
  appeals:open                    zset  submissions under appeal (for the open-appeals gauge)
  platform:<id>:pending           zset  "<scored ms>|<submission id>", oldest first (lex)
  platform:<id>:appeals           zset  "<appealed ms>|<submission id>", oldest first (lex)
  worker:<id>:reviews             zset  "<scored ms>|<submission id>", read newest first
  released:<submission_id>, results:<platform_id>   as in redis_store (the result log)

One script stores a change: it checks the state it was decided from, writes the review,
moves it between indexes, queues the announcement and releases the result, so no crash can
leave one without the others.
"""

from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as redis

from scoring.adapters.redis_store import result_fields
from scoring.domain.model import Result
from scoring.domain.reviews import OPEN_STATES, RejectionReason, Review, ReviewState, page_key

_SAVE = """
local current = redis.call('HGET', KEYS[1], 'state')
if ARGV[1] == '' then
  if current then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
local sid = ARGV[3]
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'doc', ARGV[4], 'answer', ARGV[5])
if ARGV[6] == '' then
  redis.call('ZREM', KEYS[2], sid)
else
  redis.call('ZADD', KEYS[2], ARGV[6], sid)
end
if ARGV[2] == 'pending' then
  redis.call('ZADD', KEYS[3], 0, ARGV[7])
else
  redis.call('ZREM', KEYS[3], ARGV[7])
end
if ARGV[2] == 'appealed' then
  redis.call('ZADD', KEYS[4], 0, ARGV[8])
  redis.call('ZADD', KEYS[9], 1, sid)
else
  redis.call('ZREM', KEYS[4], ARGV[8])
  redis.call('ZREM', KEYS[9], sid)
end
redis.call('ZADD', KEYS[5], 0, ARGV[9])
redis.call('ZADD', KEYS[6], ARGV[10], sid .. '|' .. ARGV[2])
if ARGV[11] == '1' and redis.call('EXISTS', KEYS[7]) == 0 then
  local id = redis.call('XADD', KEYS[8], '*', unpack(ARGV, 12))
  redis.call('SET', KEYS[7], id)
end
return 1
"""

_TIMES = (
    "scored_at",
    "review_due",
    "decided_at",
    "appeal_until",
    "appealed_at",
    "appeal_due",
    "appeal_answered_at",
)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _doc(review: Review) -> bytes:
    doc: dict[str, Any] = {
        "submission_id": review.submission_id,
        "task_id": review.task_id,
        "client_task_id": review.client_task_id,
        "platform_id": review.platform_id,
        "task_type": review.task_type,
        "worker_id": review.worker_id,
        "region": review.region,
        "price_micros": review.price_micros,
        "worked_seconds": review.worked_seconds,
        "gold": review.gold,
        "state": review.state.value,
        "automatic": review.automatic,
        "reason": review.reason.value if review.reason else "",
        "explanation": review.explanation,
        "result_kept": review.result_kept,
        "appeal_statement": review.appeal_statement,
        "appeal_answer": review.appeal_answer,
        "overlap_task_id": review.overlap_task_id,
    }
    for name in _TIMES:
        moment: datetime | None = getattr(review, name)
        doc[name] = moment.isoformat() if moment else ""
    return orjson.dumps(doc)


def _review(doc_raw: bytes | str, answer: bytes | str | None) -> Review:
    doc = orjson.loads(doc_raw)
    times = {name: _moment(doc[name]) for name in _TIMES[2:]}
    return Review(
        submission_id=doc["submission_id"],
        task_id=doc["task_id"],
        client_task_id=doc["client_task_id"],
        platform_id=doc["platform_id"],
        task_type=doc["task_type"],
        worker_id=doc["worker_id"],
        region=doc["region"],
        price_micros=doc["price_micros"],
        worked_seconds=doc["worked_seconds"],
        answer=answer.encode() if isinstance(answer, str) else (answer or b""),
        gold=doc["gold"],
        state=ReviewState(doc["state"]),
        scored_at=datetime.fromisoformat(doc["scored_at"]),
        review_due=datetime.fromisoformat(doc["review_due"]),
        automatic=doc["automatic"],
        reason=RejectionReason(doc["reason"]) if doc["reason"] else None,
        explanation=doc["explanation"],
        result_kept=doc["result_kept"],
        appeal_statement=doc["appeal_statement"],
        appeal_answer=doc["appeal_answer"],
        # Absent from reviews stored before tasks could have several answers.
        overlap_task_id=doc.get("overlap_task_id", ""),
        **times,
    )


def _moment(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class RedisReviewBook:
    def __init__(self, client: "redis.Redis", prefix: str = "scoring:") -> None:
        self._r = client
        self._p = prefix
        self._save = client.register_script(_SAVE)

    async def get(self, submission_id: str) -> Review | None:
        doc, answer = await self._r.hmget(f"{self._p}review:{submission_id}", ["doc", "answer"])
        if doc is None:
            return None
        return _review(doc, answer)

    async def save(
        self,
        review: Review,
        expected: ReviewState | None,
        release: Result | None,
        now: datetime,
    ) -> bool:
        p = self._p
        sid = review.submission_id
        keys = [
            f"{p}review:{sid}",
            f"{p}reviews:due",
            f"{p}platform:{review.platform_id}:pending",
            f"{p}platform:{review.platform_id}:appeals",
            f"{p}worker:{review.worker_id}:reviews",
            f"{p}reviews:outbox",
            f"{p}released:{sid}",
            f"{p}results:{review.platform_id}",
            f"{p}appeals:open",
        ]
        due = review.due
        args: list[str | bytes | int] = [
            expected.value if expected else "",
            review.state.value,
            sid,
            _doc(review),
            review.answer,
            _ms(due) if due is not None and review.state in OPEN_STATES else "",
            page_key(review.scored_at, sid),
            page_key(review.appealed_at, sid),
            page_key(review.scored_at, sid),
            _ms(now),
            "1" if release is not None else "0",
        ]
        if release is not None:
            args += result_fields(release)
        return bool(await self._save(keys=keys, args=args))

    async def due(self, now: datetime, limit: int) -> list[str]:
        raw = await self._r.zrangebyscore(
            f"{self._p}reviews:due", "-inf", _ms(now), start=0, num=limit
        )
        return [_text(member) for member in raw]

    async def pending(self, platform_id: str, after: str, limit: int) -> list[Review]:
        return await self._page(f"{self._p}platform:{platform_id}:pending", after, limit)

    async def open_appeals(self, platform_id: str, after: str, limit: int) -> list[Review]:
        return await self._page(f"{self._p}platform:{platform_id}:appeals", after, limit)

    async def of_worker(self, worker_id: str, before: str, limit: int) -> list[Review]:
        return await self._page(
            f"{self._p}worker:{worker_id}:reviews", before, limit, newest_first=True
        )

    async def unannounced(self, older_than: datetime, limit: int) -> list[tuple[str, str]]:
        raw = await self._r.zrangebyscore(
            f"{self._p}reviews:outbox", "-inf", _ms(older_than), start=0, num=limit
        )
        steps = []
        for member in raw:
            sid, _, state = _text(member).rpartition("|")
            steps.append((sid, state))
        return steps

    async def announced(self, submission_id: str, state: ReviewState) -> None:
        await self._r.zrem(f"{self._p}reviews:outbox", f"{submission_id}|{state.value}")

    async def counts(self) -> tuple[int, int]:
        """(reviews waiting for a platform's first decision, appeals waiting for an answer)."""
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.zcard(f"{self._p}reviews:due")
            pipe.zcard(f"{self._p}appeals:open")
            open_reviews, appeals = await pipe.execute()
        return int(open_reviews) - int(appeals), int(appeals)

    async def _page(
        self, index: str, token: str, limit: int, newest_first: bool = False
    ) -> list[Review]:
        if newest_first:
            high = f"({token}" if token else "+"
            members = await self._r.zrevrangebylex(index, high, "-", start=0, num=limit)
        else:
            low = f"({token}" if token else "-"
            members = await self._r.zrangebylex(index, low, "+", start=0, num=limit)
        ids = [_text(m).partition("|")[2] for m in members]
        if not ids:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hmget(f"{self._p}review:{sid}", ["doc", "answer"])
            rows = await pipe.execute()
        return [_review(doc, answer) for doc, answer in rows if doc is not None]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
