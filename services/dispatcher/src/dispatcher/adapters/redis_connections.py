"""Workers' connections in Redis: which replica holds each, superseded by newer ones, and
what each worker is busy with (for a replica that starts and must learn who is there)."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import redis.asyncio as redis
from redis.typing import EncodableT

from dispatcher.adapters import redis_replicas
from dispatcher.adapters.codec import hello_from_json, hello_to_json, task_from_bytes
from dispatcher.adapters.values import as_text, to_ms
from dispatcher.domain.model import Lease, Offer
from dispatcher.service_layer.ports import (
    Connection,
    Disconnection,
    OfferClosedNow,
    OnlineWorker,
)
from dispatcher.service_layer.sessions import Hello
from fairtask_runtime.envelope import new_event_id


def closed_offer(offer_id: str, raw: Sequence[object]) -> OfferClosedNow:
    """An offer a script closed: (worker, expiry in ms, the task's event, who offered it)."""
    worker, expires, event, by = raw
    assert isinstance(event, bytes)
    moment = datetime.fromtimestamp(int(as_text(expires)) / 1000, tz=UTC)
    offer = Offer(offer_id, task_from_bytes(event), as_text(worker), moment)
    return OfferClosedNow(offer, as_text(by))


class RedisConnections:
    def __init__(
        self,
        client: "redis.Redis",
        prefix: str,
        origin: str,
        get_lease: Callable[[str], Awaitable[Lease | None]],
    ) -> None:
        self._r = client
        self._p = prefix
        self._origin = origin
        self._get_lease = get_lease
        self._connect = client.register_script(redis_replicas.CONNECT)
        self._disconnect = client.register_script(redis_replicas.DISCONNECT)

    async def connect(self, hello: Hello, now: datetime) -> Connection:
        args: list[EncodableT] = [
            self._p,
            hello.worker_id,
            hello_to_json(hello),
            hello.region,
            self._origin,
        ]
        raw = await self._connect(args=[*args, to_ms(now), new_event_id(), new_event_id()])
        seq, lease_id, by, withdrawn = raw
        lease = await self._get_lease(as_text(lease_id)) if lease_id else None
        closed = closed_offer(as_text(withdrawn[0]), withdrawn[1:]) if withdrawn else None
        return Connection(int(seq), lease, closed, as_text(by))

    async def disconnect(
        self,
        worker_id: str,
        seq: int | None,
        holder: str | None,
        last_seen: datetime | None,
        grace_until: datetime,
        now: datetime,
    ) -> Disconnection:
        raw = await self._disconnect(
            args=[
                self._p,
                worker_id,
                "" if seq is None else seq,
                holder or "",
                "" if last_seen is None else to_ms(last_seen),
                to_ms(grace_until),
                self._origin,
                to_ms(now),
                new_event_id(),
                new_event_id(),
            ]
        )
        if not int(raw[0]):
            return Disconnection(False)
        withdrawn = raw[1]
        closed = closed_offer(as_text(withdrawn[0]), withdrawn[1:]) if withdrawn else None
        return Disconnection(True, closed)

    async def online(self) -> list[OnlineWorker]:
        workers = [as_text(w) for w in await self._r.smembers(f"{self._p}online")]
        async with self._r.pipeline(transaction=False) as pipe:
            for worker in workers:
                pipe.hmget(f"{self._p}conn:{worker}", ["hello", "holder", "seq"])
                pipe.get(f"{self._p}worker:{worker}:offer")
                pipe.get(f"{self._p}worker:{worker}:lease")
            raw = await pipe.execute()
        found: list[OnlineWorker] = []
        for i in range(len(workers)):
            (hello, holder, seq), offer_id, lease_id = raw[3 * i : 3 * i + 3]
            if hello is None:
                continue  # disconnected meanwhile
            busy = await self._engagement(as_text(offer_id), as_text(lease_id))
            found.append(OnlineWorker(hello_from_json(hello), int(seq), as_text(holder), *busy))
        return found

    async def _engagement(self, offer_id: str, lease_id: str) -> tuple[str, str, str, str]:
        """(task, offer, lease, by) of what a worker holds, or all empty."""
        if lease_id:
            task, offer, by = await self._r.hmget(
                f"{self._p}lease:{lease_id}", ["task_id", "offer_id", "by"]
            )
            return as_text(task), as_text(offer), lease_id, as_text(by)
        if offer_id:
            task, by = await self._r.hmget(f"{self._p}offer:{offer_id}", ["task_id", "by"])
            if task is not None:
                return as_text(task), offer_id, "", as_text(by)
        return "", "", "", ""
