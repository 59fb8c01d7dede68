"""The transition log as a Redis stream, replica liveness and the relay's turn.

The Lua scripts in `redis_scripts` append the entries; this module reads them back as
`Transition`s. Entries stay until the relay has published them and every live replica has
read them.
"""

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
    """One log entry's fields, decoded as they are asked for."""

    def __init__(self, fields: dict[bytes, bytes], tasks: TaskCache) -> None:
        self._f = fields
        self._tasks = tasks

    def __getitem__(self, name: str) -> str:
        return self._f.get(name.encode(), b"").decode()

    def number(self, name: str) -> int:
        return int(self._f[name.encode()])

    def moment(self, name: str) -> datetime:
        return from_ms(self._f[name.encode()])

    def task(self) -> Task:
        return self._tasks.get(self["task"], self._f[b"t"])

    def hello(self) -> Hello:
        return hello_from_json(self._f[b"hello"])

    def answer(self) -> bytes:
        return self._f[b"answer"]


def _transition(position: str, e: _Entry, noting: str) -> Transition:
    origin = e["origin"]
    change = _noted(e) if origin == noting else _change(e)
    return Transition(position, origin, e.moment("at"), e["id"], change)


def _noted(e: _Entry) -> Noted:
    return Noted(e["kind"], e["worker"], e["task"], e["offer"], e["lease"], e["by"])


def _change(e: _Entry) -> Change:
    kind = e["kind"]
    if kind == "connected":
        return Connected(
            e.hello(), e.number("seq"), e["holder"], e["lease"], e["task"], e["offer"], e["by"]
        )
    if kind == "disconnected":
        return Disconnected(e["worker"], e["region"], e.number("seq"), e["holder"])
    if kind == "cancelled":
        return Cancelled(
            e["task"],
            e["pool"],
            e["offer"],
            e["worker"],
            e["by"],
            e["platform"],
            e["reason"],
            e["answer_of"],
        )
    if kind == "queued":
        return Queued(e.task())
    if kind in ("offered", "closed"):
        offer = Offer(e["offer"], e.task(), e["worker"], e.moment("expires"))
        if kind == "offered":
            return Offered(offer, e["by"], e["region"], e["holder"], e.number("seq"))
        return OfferEnded(offer, e["by"], OfferOutcome(e["outcome"]))
    lease = Lease(
        lease_id=e["lease"],
        task=e.task(),
        worker_id=e["worker"],
        region=e["region"],
        offer_id=e["offer"],
        leased_at=e.moment("leased_at"),
        last_seen=e.moment("last_seen"),
        active=kind == "assigned",
    )
    if kind == "assigned":
        return Assigned(lease, e["by"])
    if kind == "submitted":
        return Submitted(lease, e["by"], e["submission"], e.answer(), e.number("worked"))
    if kind == "released":
        return Released(lease, e["by"], e.number("worked"), e["reason"])
    raise ValueError(f"unknown log entry {kind!r}")
