"""Workers' connections in memory, mirroring `redis_connections` and its scripts."""

from datetime import datetime
from typing import TYPE_CHECKING

from dispatcher.adapters.memory_state import ConnRecord
from dispatcher.adapters.values import to_ms
from dispatcher.domain.events import OfferOutcome
from dispatcher.service_layer.ports import Connection, Disconnection, OnlineWorker
from dispatcher.service_layer.sessions import Hello
from dispatcher.service_layer.transitions import Connected, Disconnected
from fairtask_runtime.envelope import new_event_id

if TYPE_CHECKING:
    from dispatcher.adapters.memory_store import MemoryTaskStore


class MemoryConnections:
    def __init__(self, store: "MemoryTaskStore") -> None:
        self._store = store

    async def connect(self, hello: Hello, now: datetime) -> Connection:
        s = self._store.state
        worker = hello.worker_id
        s.conn_seq += 1
        s.conns[worker] = ConnRecord(hello, self._store.origin, s.conn_seq)
        withdrawn = None
        if worker in s.worker_offer:
            withdrawn = self._store.withdraw(s.worker_offer[worker], OfferOutcome.WITHDRAWN, now)
        lease = await self._store.lease_of(worker)
        change = Connected(hello, s.conn_seq, self._store.origin)
        by = ""
        if lease is not None:
            s.grace.pop(lease.lease_id, None)
            by = s.leases[lease.lease_id].by
            change = Connected(
                hello, s.conn_seq, self._store.origin, lease.lease_id, lease.task.task_id,
                lease.offer_id, by,
            )  # fmt: skip
        self._store.note(now, change, new_event_id())
        return Connection(s.conn_seq, lease, withdrawn, by)

    async def disconnect(
        self,
        worker_id: str,
        seq: int | None,
        holder: str | None,
        last_seen: datetime | None,
        grace_until: datetime,
        now: datetime,
    ) -> Disconnection:
        s = self._store.state
        conn = s.conns.get(worker_id)
        if conn is None or (seq is not None and conn.seq != seq):
            return Disconnection(False)
        if holder is not None and conn.holder != holder:
            return Disconnection(False)
        del s.conns[worker_id]
        withdrawn = None
        if worker_id in s.worker_offer:
            withdrawn = self._store.withdraw(s.worker_offer[worker_id], OfferOutcome.WITHDRAWN, now)
        lease_id = s.worker_lease.get(worker_id)
        if lease_id is not None:
            record = s.leases[lease_id]
            if last_seen is not None and record.state == "active":
                record.last_seen_ms = to_ms(last_seen)
            # The task stays reserved and the draft kept until the grace period runs out.
            s.grace.setdefault(lease_id, to_ms(grace_until))
        change = Disconnected(worker_id, conn.hello.region, conn.seq, conn.holder)
        self._store.note(now, change, new_event_id())
        return Disconnection(True, withdrawn)

    def online(self) -> list[OnlineWorker]:
        s = self._store.state
        found: list[OnlineWorker] = []
        for worker, conn in s.conns.items():
            task = offer = lease = by = ""
            if worker in s.worker_lease:
                lease = s.worker_lease[worker]
                record = s.leases[lease]
                task, offer, by = record.task_id, record.offer_id, record.by
            elif worker in s.worker_offer:
                offer = s.worker_offer[worker]
                task, by = s.offers[offer].task_id, s.offers[offer].by
            found.append(OnlineWorker(conn.hello, conn.seq, conn.holder, task, offer, lease, by))
        return found
