"""Dispatcher state in Redis: task types, tasks, queues per pool, offers and leases."""

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as redis
from redis.typing import EncodableT

from dispatcher.adapters import redis_scripts
from dispatcher.adapters.codec import task_from_bytes, task_to_pb
from dispatcher.adapters.redis_batch import ScriptBatches, run_all
from dispatcher.adapters.redis_connections import RedisConnections, closed_offer
from dispatcher.adapters.task_cache import TaskCache
from dispatcher.adapters.values import as_bytes, as_text, from_ms, to_ms
from dispatcher.domain.errors import ConflictError, NotFoundError
from dispatcher.domain.events import OfferOutcome
from dispatcher.domain.model import Lease, Offer, Overlap, Task, TaskState, TaskStatus, TaskType
from dispatcher.service_layer.ports import (
    Accepted,
    Cancellation,
    Connection,
    Disconnection,
    LeaseReleasedNow,
    OfferClosedNow,
    OfferMade,
    OfferWanted,
    OnlineWorker,
)
from dispatcher.service_layer.sessions import Hello
from dispatcher.service_layer.transitions import DEADLINE_PASSED
from fairtask_runtime.envelope import new_event_id


class RedisTaskTypes:
    def __init__(self, client: "redis.Redis", prefix: str = "dispatch:") -> None:
        self._r = client
        self._p = prefix

    async def put(self, platform_id: str, task_type: TaskType) -> None:
        data = orjson.dumps(
            {
                "name": task_type.name,
                "purpose": task_type.purpose,
                "price_micros": task_type.price_micros,
                "effort_seconds": task_type.effort_seconds,
                "skills": list(task_type.skills),
                "sensitive": task_type.sensitive,
                "overlap": dataclasses.asdict(task_type.overlap) if task_type.overlap else None,
            }
        )
        await self._r.hset(f"{self._p}tt:{platform_id}", task_type.name, data)

    async def get_many(self, platform_id: str, names: Sequence[str]) -> dict[str, TaskType]:
        if not names:
            return {}
        raw = await self._r.hmget(f"{self._p}tt:{platform_id}", list(names))
        found: dict[str, TaskType] = {}
        for name, data in zip(names, raw, strict=True):
            if data is not None:
                d = orjson.loads(data)
                found[name] = TaskType(
                    d["name"],
                    d["purpose"],
                    d["price_micros"],
                    d["effort_seconds"],
                    tuple(d["skills"]),
                    d["sensitive"],
                    Overlap(**d["overlap"]) if d.get("overlap") else None,
                )
        return found


class RedisTaskStore:
    """Task state in Redis. `origin` names the replica it acts for in the transition log."""

    def __init__(
        self,
        client: "redis.Redis",
        prefix: str = "dispatch:",
        origin: str = "",
        tasks: TaskCache | None = None,
        finished_kept_s: float = 3600.0,
        unsettled_kept_s: float = 8 * 24 * 3600.0,
    ) -> None:
        self._r = client
        self._tasks = tasks or TaskCache()
        self._p = prefix
        self._origin = origin
        # A finished task's and an ended lease's keys expire after this long; a task several
        # workers answer, and its copies, after the longer time while scoring has not settled it.
        self._kept_ms = max(int(finished_kept_s * 1000), 1)
        self._held_ms = max(int(unsettled_kept_s * 1000), self._kept_ms)
        self._record_accepted = client.register_script(redis_scripts.RECORD_ACCEPTED)
        self._backlog = client.register_script(redis_scripts.BACKLOG)
        self._ingest = client.register_script(redis_scripts.INGEST)
        self._cancel = client.register_script(redis_scripts.CANCEL)
        self._expire = client.register_script(redis_scripts.EXPIRE)
        self._close_offer = client.register_script(redis_scripts.CLOSE_OFFER)
        self._accept = client.register_script(redis_scripts.ACCEPT)
        self._heartbeat = client.register_script(redis_scripts.HEARTBEAT)
        self._complete = client.register_script(redis_scripts.COMPLETE)
        self._release = client.register_script(redis_scripts.RELEASE)
        self._offer_task = client.register_script(redis_scripts.OFFER_TASK)
        self._connections = RedisConnections(client, prefix, origin, self.get_lease)
        self._get_lease = client.register_script(redis_scripts.GET_LEASE)
        self._settle = client.register_script(redis_scripts.SETTLE)
        # A worker's accepts and submits, many at once under load, share round trips.
        self._batches = ScriptBatches(client)

    async def record_accepted(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        if not accepted:
            return
        fields = [(a.client_task_id, a.task_id, a.task_type) for a in accepted]
        await self._record_accepted(args=[self._p, platform_id, *itertools.chain(*fields)])

    async def backlog(self, platform_id: str) -> int:
        return int(await self._backlog(args=[self._p, platform_id]))

    async def ingest(self, task: Task, now: datetime) -> bool:
        return bool(await self._ingest(args=self._ingest_args(task, now)))

    async def ingest_many(self, tasks: Sequence[Task], now: datetime) -> list[bool]:
        calls = [(self._ingest, self._ingest_args(task, now)) for task in tasks]
        return [bool(result) for result in await run_all(self._r, calls)]

    def _ingest_args(self, task: Task, now: datetime) -> list[EncodableT]:
        return [
            self._p,
            task.task_id,
            task_to_pb(task).SerializeToString(),
            task.platform_id,
            task.client_task_id,
            task.task_type.name,
            task.pool,
            orjson.dumps(list(task.task_type.skills)),
            self._origin,
            to_ms(now),
            to_ms(task.deadline) if task.deadline is not None else "",
            task.answer_of,
            task.answers,
            self._kept_ms,
            self._held_ms,
        ]

    async def status(self, platform_id: str, task_id: str) -> TaskStatus | None:
        fields = ["platform_id", "client_task_id", "task_type", "state", "worker_id"]
        raw = await self._r.hmget(f"{self._p}task:{task_id}", [*fields, "ingested", "answers"])
        owner, client_id, task_type, state, worker, ingested, answers = raw
        if owner is None or as_text(owner) != platform_id:
            return None
        return TaskStatus(
            task_id,
            as_text(client_id),
            as_text(task_type),
            TaskState(as_text(state)),
            as_text(worker),
            int(answers) if ingested == b"1" and answers is not None else None,
        )

    async def task(self, task_id: str) -> Task | None:
        raw = await self._r.hget(f"{self._p}task:{task_id}", "event")
        return task_from_bytes(as_bytes(raw)) if raw is not None else None

    async def settle(self, task_id: str, copy_ids: Sequence[str]) -> None:
        await self._settle(args=[self._p, self._kept_ms, task_id, *copy_ids])

    async def cancel(self, platform_id: str, task_id: str, ahead: bool = False) -> Cancellation:
        args = [
            self._p,
            task_id,
            platform_id,
            self._origin,
            "1" if ahead else "0",
            self._kept_ms,
            self._held_ms,
        ]
        result = await self._cancel(args=args)
        verdict = as_text(result[0])
        if verdict == "not_found":
            raise NotFoundError(task_id)
        if verdict == "conflict":
            raise ConflictError(f"task is {as_text(result[1])}; it can no longer be cancelled")
        if len(result) == 1:
            return Cancellation(TaskState.CANCELLED)
        task = task_from_bytes(as_bytes(result[3]))
        offer = Offer(as_text(result[1]), task, as_text(result[2]), from_ms(as_text(result[4])))
        return Cancellation(TaskState.CANCELLED, offer)

    async def known_pools(self) -> dict[str, tuple[str, ...]]:
        raw = await self._r.hgetall(f"{self._p}pools")
        return {as_text(k): tuple(orjson.loads(v)) for k, v in raw.items()}

    async def offer_task(
        self,
        task_id: str,
        worker_id: str,
        offer_id: str,
        expires_at: datetime,
        region: str,
        by: str,
        now: datetime,
    ) -> OfferMade:
        wanted = OfferWanted(task_id, worker_id, offer_id, expires_at, region, by)
        return self._offer_made(wanted, await self._offer_task(args=self._offer_args(wanted, now)))

    async def offer_tasks(self, wanted: Sequence[OfferWanted], now: datetime) -> list[OfferMade]:
        if not wanted:
            return []
        calls = [(self._offer_task, self._offer_args(one, now)) for one in wanted]
        replies = await run_all(self._r, calls)
        return [self._offer_made(one, raw) for one, raw in zip(wanted, replies, strict=True)]

    def _offer_made(self, wanted: OfferWanted, raw: list[bytes]) -> OfferMade:
        """OFFER_TASK's reply: ["ok", task event, holder, seq], or [why not]."""
        verdict = as_text(raw[0])
        if verdict != "ok":
            return OfferMade(None, verdict)
        task = self._tasks.get(wanted.task_id, as_bytes(raw[1]))
        offer = Offer(wanted.offer_id, task, wanted.worker_id, wanted.expires_at)
        return OfferMade(offer, holder=as_text(raw[2]), seq=int(raw[3]))

    def _offer_args(self, w: OfferWanted, now: datetime) -> list[EncodableT]:
        offered: list[EncodableT] = [
            w.task_id,
            w.worker_id,
            w.offer_id,
            to_ms(w.expires_at),
            w.region,
            w.by,
        ]
        return [self._p, *offered, self._origin, to_ms(now), new_event_id()]

    async def queue_depth(self, pools: Sequence[str]) -> int:
        async with self._r.pipeline(transaction=False) as pipe:
            for pool in pools:
                pipe.zcard(f"{self._p}queue:{pool}")
            return sum(int(n) for n in await pipe.execute())

    async def queued_tasks(self, pools: Sequence[str]) -> list[Task]:
        found: list[Task] = []
        for pool in pools:
            found += await self._tasks_named(await self._r.zrange(f"{self._p}queue:{pool}", 0, -1))
        return found

    async def _tasks_named(self, ids: Sequence[Any]) -> list[Task]:
        """The ingested ones among these tasks, in the same order, in one round trip."""
        if not ids:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for task_id in ids:
                pipe.hget(f"{self._p}task:{as_text(task_id)}", "event")
            events = await pipe.execute()
        return [task_from_bytes(as_bytes(e)) for e in events if e]

    async def overdue_tasks(self, now: datetime, limit: int) -> list[Task]:
        key = f"{self._p}deadlines"
        ids = await self._r.zrangebyscore(key, "-inf", to_ms(now), start=0, num=limit)
        found = await self._tasks_named(ids)
        if len(found) < len(ids):  # gone meanwhile: they would stay at the head for ever
            known = {task.task_id for task in found}
            await self._r.zrem(key, *(as_text(i) for i in ids if as_text(i) not in known))
        return found

    async def expire(
        self, task: Task, later_answers: Sequence[str], now: datetime, recheck_at: datetime
    ) -> bool:
        args: list[EncodableT] = [
            self._p,
            task.task_id,
            self._origin,
            to_ms(now),
            new_event_id(),
            to_ms(recheck_at),
            self._kept_ms,
            self._held_ms,
            DEADLINE_PASSED,
        ]
        for copy_id in later_answers:
            args += [copy_id, new_event_id()]
        return bool(await self._expire(args=args))

    async def close_offer(
        self, offer_id: str, worker_id: str | None, outcome: OfferOutcome, now: datetime
    ) -> OfferClosedNow | None:
        raw = await self._close_offer(
            args=[
                self._p,
                offer_id,
                worker_id or "",
                outcome.value,
                self._origin,
                to_ms(now),
                new_event_id(),
            ]
        )
        return closed_offer(offer_id, raw) if raw else None

    async def expired_offers(self, now: datetime, limit: int) -> list[str]:
        raw = await self._r.zrangebyscore(
            f"{self._p}offers:expiry", "-inf", to_ms(now), start=0, num=limit
        )
        return [as_text(r) for r in raw]

    async def accept(
        self, offer_id: str, worker_id: str, lease_id: str, region: str, now: datetime
    ) -> Lease:
        args: list[EncodableT] = [self._p, offer_id, worker_id, lease_id, region, to_ms(now)]
        result = await self._batches.call(self._accept, [*args, self._origin, new_event_id()])
        verdict = as_text(result[0])
        if verdict == "not_found":
            raise NotFoundError(f"offer {offer_id} is not outstanding for you")
        if verdict == "expired":
            raise ConflictError(f"offer {offer_id} has expired")
        # Just written by the script, which returns the task: no second round trip.
        leased_at = from_ms(to_ms(now))
        return Lease(
            lease_id=lease_id,
            task=self._tasks.get(as_text(result[2]), as_bytes(result[1])),
            worker_id=worker_id,
            region=region,
            offer_id=offer_id,
            leased_at=leased_at,
            last_seen=leased_at,
            draft=b"",
            active=True,
        )

    async def lease_of(self, worker_id: str) -> Lease | None:
        lease_id = await self._r.get(f"{self._p}worker:{worker_id}:lease")
        if lease_id is None:
            return None
        lease = await self.get_lease(as_text(lease_id))
        return lease if lease is not None and lease.active else None

    async def heartbeat(
        self, lease_id: str, worker_id: str, draft: bytes | None, now: datetime
    ) -> Lease:
        has_draft = "1" if draft is not None else "0"
        ok = await self._heartbeat(
            args=[self._p, lease_id, worker_id, to_ms(now), has_draft, draft or b""]
        )
        if not ok:
            raise NotFoundError(f"lease {lease_id} is not your active lease")
        lease = await self.get_lease(lease_id)
        if lease is None:  # ended between the two steps, by a submit or a release elsewhere
            raise NotFoundError(f"lease {lease_id} is not your active lease")
        return lease

    async def complete(
        self,
        lease_id: str,
        worker_id: str,
        answer: bytes,
        worked_s: int,
        submission_id: str,
        now: datetime,
    ) -> bool:
        args: list[EncodableT] = [
            self._p,
            lease_id,
            worker_id,
            answer,
            worked_s,
            self._origin,
            to_ms(now),
            new_event_id(),
            submission_id,
            self._kept_ms,
            self._held_ms,
        ]
        verdict = as_text(await self._batches.call(self._complete, args))
        if verdict == "not_found":
            raise NotFoundError(f"lease {lease_id} is not yours")
        return verdict == "ok"

    async def overdue_leases(self, now: datetime, limit: int) -> list[str]:
        raw = await self._r.zrangebyscore(
            f"{self._p}leases:grace", "-inf", to_ms(now), start=0, num=limit
        )
        return [as_text(r) for r in raw]

    async def release(
        self, lease_id: str, reason: str, now: datetime, overdue: bool = False
    ) -> LeaseReleasedNow | None:
        lease = await self.get_lease(lease_id)
        args: list[EncodableT] = [
            self._p,
            lease_id,
            reason,
            self._origin,
            to_ms(now),
            new_event_id(),
            self._kept_ms,
            "1" if overdue else "0",
        ]
        raw = await self._release(args=args)
        if not raw or lease is None:
            return None
        return LeaseReleasedNow(lease, as_text(raw[1]), int(raw[0]))

    async def lease_worker(self, lease_id: str) -> str | None:
        worker = await self._r.hget(f"{self._p}lease:{lease_id}", "worker_id")
        return as_text(worker) if worker is not None else None

    async def get_lease(self, lease_id: str) -> Lease | None:
        raw = await self._get_lease(args=[self._p, lease_id])
        if not raw:
            return None
        event, worker, region, offer, leased_at, last_seen, draft, state = raw
        return Lease(
            lease_id=lease_id,
            task=task_from_bytes(as_bytes(event)),
            worker_id=as_text(worker),
            region=as_text(region),
            offer_id=as_text(offer),
            leased_at=from_ms(leased_at),
            last_seen=from_ms(last_seen),
            draft=as_bytes(draft),
            active=state == b"active",
        )

    async def connect_worker(self, hello: Hello, now: datetime) -> Connection:
        return await self._connections.connect(hello, now)

    async def disconnect_worker(
        self,
        worker_id: str,
        seq: int | None,
        holder: str | None,
        last_seen: datetime | None,
        grace_until: datetime,
        now: datetime,
    ) -> Disconnection:
        return await self._connections.disconnect(
            worker_id, seq, holder, last_seen, grace_until, now
        )

    async def online_workers(self) -> list[OnlineWorker]:
        return await self._connections.online()
