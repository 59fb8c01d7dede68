"""The transition log as a Redis stream, replica liveness and the relay's turn.

The Lua scripts in `redis_scripts` append the entries; this module reads them back as
`Transition`s. Entries stay until the relay has published them and every live replica has
read them.
"""

import functools
from datetime import datetime
from typing import Any

import redis.asyncio as redis

from dispatcher.adapters import redis_replicas
from dispatcher.adapters.codec import hello_from_json
from dispatcher.adapters.recent_entries import RecentEntries
from dispatcher.adapters.task_cache import TaskCache
from dispatcher.adapters.values import as_text, from_ms, to_ms
from dispatcher.domain.events import OfferOutcome
from dispatcher.domain.model import Lease, Offer, Task
from dispatcher.service_layer.sessions import Hello
from dispatcher.service_layer.transitions import (
    Assigned,
    Cancelled,
    Change,
    Connected,
    Disconnected,
    Noted,
    Offered,
    OfferEnded,
    Queued,
    Released,
    Submitted,
    Transition,
)

_START = "0-0"


class RedisTransitionLog:
    def __init__(
        self, client: "redis.Redis", prefix: str = "dispatch:", tasks: TaskCache | None = None
    ) -> None:
        self._r = client
        self._p = prefix
        self._key = f"{prefix}log"
        self._lead = client.register_script(redis_replicas.LEAD)
        self._published = client.register_script(redis_replicas.PUBLISHED)
        self._tasks = tasks or TaskCache()
        # The follower and the relay read the same entries: from Redis once.
        self._recent = RecentEntries()

    async def end(self) -> str:
        last: Any = await self._r.xrevrange(self._key, count=1)
        return _START if not last else as_text(last[0][0])

    async def read(
        self, after: str, limit: int, wait_s: float, noting: str = ""
    ) -> list[Transition]:
        entries = self._recent.after(after, limit)
        if entries is None:
            # Blocks one pooled connection for up to wait_s; the others stay free for the
            # scripts.
            block_ms = max(int(wait_s * 1000), 1) if wait_s > 0 else None
            raw: Any = await self._r.xread({self._key: after}, count=limit, block=block_ms)
            entries = raw[0][1] if raw else []
            self._recent.add(after, entries)
        return [
            _transition(as_text(i), _Entry(fields, self._tasks), noting) for i, fields in entries
        ]

    async def read_up_to(self, replica: str, position: str) -> None:
        await self._r.hset(f"{self._p}log:cursors", replica, position)

    async def beat(self, replica: str, alive_until: datetime) -> None:
        await self._r.hset(f"{self._p}replicas", replica, to_ms(alive_until))

    async def dead(self, now: datetime) -> list[str]:
        raw = await self._r.hgetall(f"{self._p}replicas")
        return [as_text(k) for k, until in raw.items() if int(until) < to_ms(now)]

    async def alive(self, now: datetime) -> list[str]:
        raw = await self._r.hgetall(f"{self._p}replicas")
        return [as_text(k) for k, until in raw.items() if int(until) >= to_ms(now)]

    async def connections_of(self, replica: str) -> list[str]:
        workers = await self._r.smembers(f"{self._p}replica:{replica}:workers")
        return [as_text(w) for w in workers]

    async def forget(self, replica: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hdel(f"{self._p}replicas", replica)
            pipe.hdel(f"{self._p}log:cursors", replica)
            pipe.delete(f"{self._p}replica:{replica}:workers")
            await pipe.execute()

    async def lead(self, replica: str, ttl_s: float) -> bool:
        return bool(await self._lead(args=[self._p, replica, int(ttl_s * 1000)]))

    async def published(self) -> str:
        raw = await self._r.get(f"{self._p}log:published")
        return _START if raw is None else as_text(raw)

    async def mark_published(self, position: str, now: datetime) -> None:
        trimmed_up_to = await self._published(args=[self._p, position, to_ms(now)])
        self._recent.forget_up_to(as_text(trimmed_up_to))


class _Entry:
    """One log entry's fields, decoded as they are asked for (by their names as bytes: the
    entries of an offer cycle are read twice each, by the follower and the relay)."""

    __slots__ = ("_f", "_tasks")

    def __init__(self, fields: dict[bytes, bytes], tasks: TaskCache) -> None:
        self._f = fields
        self._tasks = tasks

    def __getitem__(self, name: bytes) -> str:
        value = self._f.get(name)
        return value.decode() if value else ""

    def number(self, name: bytes) -> int:
        return int(self._f[name])

    def moment(self, name: bytes) -> datetime:
        return _moment(self._f[name])

    def task(self) -> Task:
        return self._tasks.get(self[b"task"], self._f[b"t"])

    def hello(self) -> Hello:
        return hello_from_json(self._f[b"hello"])

    def answer(self) -> bytes:
        return self._f[b"answer"]


@functools.lru_cache(maxsize=1)
def _moment(ms: bytes) -> datetime:
    """`from_ms`, remembering the last one: an entry's times are often one and the same (a
    lease's start, last beat and the entry itself), and so are those of entries written in the
    same millisecond."""
    return from_ms(ms)


def _transition(position: str, e: _Entry, noting: str) -> Transition:
    origin = e[b"origin"]
    change = _noted(e) if origin == noting else _change(e)
    return Transition(position, origin, e.moment(b"at"), e[b"id"], change)


def _noted(e: _Entry) -> Noted:
    return Noted(e[b"kind"], e[b"worker"], e[b"task"], e[b"offer"], e[b"lease"], e[b"by"])


def _change(e: _Entry) -> Change:
    kind = e[b"kind"]
    if kind == "connected":
        return Connected(
            e.hello(),
            e.number(b"seq"),
            e[b"holder"],
            e[b"lease"],
            e[b"task"],
            e[b"offer"],
            e[b"by"],
        )
    if kind == "disconnected":
        return Disconnected(e[b"worker"], e[b"region"], e.number(b"seq"), e[b"holder"])
    if kind == "cancelled":
        return Cancelled(
            e[b"task"],
            e[b"pool"],
            e[b"offer"],
            e[b"worker"],
            e[b"by"],
            e[b"platform"],
            e[b"reason"],
            e[b"answer_of"],
        )
    if kind == "queued":
        return Queued(e.task())
    if kind in ("offered", "closed"):
        offer = Offer(e[b"offer"], e.task(), e[b"worker"], e.moment(b"expires"))
        if kind == "offered":
            return Offered(offer, e[b"by"], e[b"region"], e[b"holder"], e.number(b"seq"))
        return OfferEnded(offer, e[b"by"], OfferOutcome(e[b"outcome"]))
    lease = Lease(
        lease_id=e[b"lease"],
        task=e.task(),
        worker_id=e[b"worker"],
        region=e[b"region"],
        offer_id=e[b"offer"],
        leased_at=e.moment(b"leased_at"),
        last_seen=e.moment(b"last_seen"),
        active=kind == "assigned",
    )
    if kind == "assigned":
        return Assigned(lease, e[b"by"])
    if kind == "submitted":
        return Submitted(lease, e[b"by"], e[b"submission"], e.answer(), e.number(b"worked"))
    if kind == "released":
        return Released(lease, e[b"by"], e.number(b"worked"), e[b"reason"])
    raise ValueError(f"unknown log entry {kind!r}")
