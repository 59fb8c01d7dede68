"""The transition log as a Redis stream, replica liveness and the relay's turn.

The Lua scripts in `redis_scripts` append the entries; this module reads them back as
`Transition`s. Entries stay until the relay has published them and every live replica has
read them.
"""

from datetime import datetime
from typing import Any

import redis.asyncio as redis

from dispatcher.adapters import redis_replicas
from dispatcher.adapters.codec import hello_from_json, task_from_bytes
from dispatcher.adapters.values import as_text, from_ms, to_ms
from dispatcher.domain.events import OfferOutcome
from dispatcher.domain.model import Lease, Offer
from dispatcher.service_layer.transitions import (
    Assigned,
    Cancelled,
    Change,
    Connected,
    Disconnected,
    Offered,
    OfferEnded,
    Queued,
    Released,
    Submitted,
    Transition,
)

_START = "0-0"


class RedisTransitionLog:
    def __init__(self, client: "redis.Redis", prefix: str = "dispatch:") -> None:
        self._r = client
        self._p = prefix
        self._key = f"{prefix}log"
        self._lead = client.register_script(redis_replicas.LEAD)
        self._published = client.register_script(redis_replicas.PUBLISHED)

    async def end(self) -> str:
        last: Any = await self._r.xrevrange(self._key, count=1)
        return _START if not last else as_text(last[0][0])

    async def read(self, after: str, limit: int, wait_s: float) -> list[Transition]:
        # Blocks one pooled connection for up to wait_s; the others stay free for the scripts.
        block_ms = max(int(wait_s * 1000), 1) if wait_s > 0 else None
        raw: Any = await self._r.xread({self._key: after}, count=limit, block=block_ms)
        if not raw:
            return []
        return [_transition(as_text(i), fields) for i, fields in raw[0][1]]

    async def read_up_to(self, replica: str, position: str) -> None:
        await self._r.hset(f"{self._p}log:cursors", replica, position)

    async def beat(self, replica: str, alive_until: datetime) -> None:
        await self._r.hset(f"{self._p}replicas", replica, to_ms(alive_until))

    async def dead(self, now: datetime) -> list[str]:
        raw = await self._r.hgetall(f"{self._p}replicas")
        return [as_text(k) for k, until in raw.items() if int(until) < to_ms(now)]

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
        await self._published(args=[self._p, position, to_ms(now)])


def _transition(position: str, f: dict[bytes, bytes]) -> Transition:
    return Transition(
        position=position,
        origin=f[b"origin"].decode(),
        at=from_ms(f[b"at"]),
        event_id=f.get(b"id", b"").decode(),
        change=_change(f),
    )


def _change(f: dict[bytes, bytes]) -> Change:
    kind = f[b"kind"]
    text = {k.decode(): v.decode() for k, v in f.items() if k not in (b"t", b"answer", b"hello")}
    if kind == b"connected":
        return Connected(
            hello_from_json(f[b"hello"]),
            int(text["seq"]),
            text["holder"],
            text["lease"],
            text["task"],
            text["offer"],
            text["by"],
        )
    if kind == b"disconnected":
        return Disconnected(text["worker"], text["region"], int(text["seq"]), text["holder"])
    if kind == b"cancelled":
        return Cancelled(
            text["task"],
            text["pool"],
            text.get("offer", ""),
            text.get("worker", ""),
            text.get("by", ""),
        )
    task = task_from_bytes(f[b"t"])
    if kind == b"queued":
        return Queued(task)
    if kind in (b"offered", b"closed"):
        offer = Offer(text["offer"], task, text["worker"], from_ms(f[b"expires"]))
        if kind == b"offered":
            return Offered(offer, text["by"], text["region"], text["holder"], int(text["seq"]))
        return OfferEnded(offer, text["by"], OfferOutcome(text["outcome"]))
    lease = Lease(
        lease_id=text["lease"],
        task=task,
        worker_id=text["worker"],
        region=text["region"],
        offer_id=text["offer"],
        leased_at=from_ms(f[b"leased_at"]),
        last_seen=from_ms(f[b"last_seen"]),
        active=kind == b"assigned",
    )
    if kind == b"assigned":
        return Assigned(lease, text["by"])
    if kind == b"submitted":
        return Submitted(lease, text["by"], text["submission"], f[b"answer"], int(text["worked"]))
    if kind == b"released":
        return Released(lease, text["by"], int(text["worked"]), text["reason"])
    raise ValueError(f"unknown log entry {kind!r}")
