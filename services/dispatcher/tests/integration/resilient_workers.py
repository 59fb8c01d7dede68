"""Workers on the gRPC stream who keep working through dispatcher crashes: they reconnect (to
the next address they know when one stops answering), resume their lease, and note what they
saw, so a test can tell whether anyone ever held two offers, or a task two workers at once.

Imported as a plain module (conftest.py puts this folder on sys.path).
"""

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc

from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg

# Come back quickly to a dispatcher that restarts on the same port.
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 300),
]
# What a stream may answer to a worker racing the dispatcher (an offer withdrawn or expired
# just as they accepted it, a submit that had got through before a crash).
_EXPECTED_ERRORS = {"NOT_FOUND", "FAILED_PRECONDITION", "ALREADY_EXISTS", "ABORTED"}


@dataclass
class Seen:
    """An offer or a lease as the worker saw it, from when it came to when it went."""

    task_id: str
    ident: str  # offer or lease id
    start: float
    end: float = math.inf


@dataclass
class ResilientWorker:
    worker_id: str
    token: str
    targets: list[str]  # dispatcher gRPC addresses, tried in turn
    work_s: float = 0.3
    decline_every: int = 0  # decline every n-th offer (0: never)
    offers: list[Seen] = field(default_factory=list)
    holds: list[Seen] = field(default_factory=list)
    submitted: dict[str, str] = field(default_factory=dict)  # task -> submission id
    drafts: dict[str, bytes] = field(default_factory=dict)  # lease -> draft sent
    resumed: list[tuple[str, bytes]] = field(default_factory=list)  # (lease, draft shown)
    sessions: int = 0
    problems: list[str] = field(default_factory=list)
    _outgoing: asyncio.Queue[d.ConnectRequest | None] | None = None
    _working: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            target = self.targets[attempt % len(self.targets)]
            try:
                await self._session(target, stop)
            except grpc.aio.AioRpcError:
                attempt += 1  # the dispatcher went away: try the next address
            self._connection_lost()
            if not stop.is_set():
                await asyncio.sleep(0.1)

    @property
    def offer(self) -> Seen | None:
        return self.offers[-1] if self.offers and self.offers[-1].end == math.inf else None

    @property
    def hold(self) -> Seen | None:
        return self.holds[-1] if self.holds and self.holds[-1].end == math.inf else None

    async def _session(self, target: str, stop: asyncio.Event) -> None:
        outgoing: asyncio.Queue[d.ConnectRequest | None] = asyncio.Queue()
        self._outgoing = outgoing

        async def requests() -> AsyncIterator[d.ConnectRequest]:
            while (message := await outgoing.get()) is not None:
                yield message

        async with grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS) as channel:
            call = dg.WorkerServiceStub(channel).Connect(requests())
            stopper = asyncio.create_task(_cancel_when(stop, call))
            await outgoing.put(d.ConnectRequest(hello=d.Hello(token=self.token)))
            try:
                async for message in call:
                    await self._handle(message)
            except (asyncio.CancelledError, grpc.aio.AioRpcError):
                if not stop.is_set():  # not our own doing: the call was cut off
                    raise
            finally:
                stopper.cancel()
                await outgoing.put(None)

    async def _handle(self, message: d.ConnectResponse) -> None:
        now, kind = time.monotonic(), message.WhichOneof("message")
        if kind == "welcome":
            self.sessions += 1
            self._welcomed(message.welcome, now)
        elif kind == "offer":
            if self.offer is not None or self.hold is not None:
                self.problems.append(f"offer {message.offer.offer_id} while busy")
            self.offers.append(Seen(message.offer.task_id, message.offer.offer_id, now))
            if self.decline_every and len(self.offers) % self.decline_every == 0:
                self.offers[-1].end = now
                await self._send(
                    d.ConnectRequest(decline=d.Decline(offer_id=message.offer.offer_id))
                )
            else:
                await self._send(d.ConnectRequest(accept=d.Accept(offer_id=message.offer.offer_id)))
        elif kind == "lease":
            self._leased(message.lease, now)
            work = asyncio.create_task(self._work(message.lease.lease_id))
            self._working.add(work)
            work.add_done_callback(self._working.discard)
        elif kind == "offer_withdrawn":
            offer = self.offer
            if offer is not None and offer.ident == message.offer_withdrawn.offer_id:
                offer.end = now
        elif kind == "submit_accepted":
            hold = self.hold
            if hold is None or hold.ident != message.submit_accepted.lease_id:
                self.problems.append(f"submit accepted for {message.submit_accepted.lease_id}")
            else:
                hold.end = now
                self.submitted[hold.task_id] = message.submit_accepted.submission_id
        elif kind == "error" and message.error.code not in _EXPECTED_ERRORS:
            self.problems.append(f"stream error {message.error}")

    def _welcomed(self, welcome: d.Welcome, now: float) -> None:
        hold = self.hold
        if welcome.HasField("resumed_lease"):
            resumed = welcome.resumed_lease
            self.resumed.append((resumed.lease_id, resumed.draft))
            if hold is None:  # accepted just before a crash, the lease never reached us
                self._leased(resumed, now)
            elif hold.ident != resumed.lease_id:
                self.problems.append(f"resumed {resumed.lease_id}, held {hold.ident}")
        elif hold is not None:
            hold.end = now  # submitted (the answer was lost in a crash) or released meanwhile

    def _leased(self, lease: d.Lease, now: float) -> None:
        offer, hold = self.offer, self.hold
        if hold is not None and hold.ident == lease.lease_id:
            return  # the same lease again, after a resume
        if hold is not None:
            self.problems.append(f"lease {lease.lease_id} while holding {hold.ident}")
        if offer is not None:
            offer.end = now
        self.holds.append(Seen(lease.task_id, lease.lease_id, now))

    async def _work(self, lease_id: str) -> None:
        """Saves a draft at once (so a crash finds one to keep), works, submits; all on the
        connection the lease came on, which may be gone by then."""
        outgoing = self._outgoing
        draft = f"half of {lease_id}".encode()
        self.drafts[lease_id] = draft
        beat = d.Heartbeat(lease_id=lease_id, draft=draft)
        await self._send(d.ConnectRequest(heartbeat=beat), outgoing)
        await asyncio.sleep(self.work_s)
        submit = d.Submit(lease_id=lease_id, answer=b"done")
        await self._send(d.ConnectRequest(submit=submit), outgoing)

    async def _send(
        self,
        request: d.ConnectRequest,
        via: asyncio.Queue[d.ConnectRequest | None] | None = None,
    ) -> None:
        """Sends on the current connection (on `via` only if it is still the current one)."""
        queue = via or self._outgoing
        if queue is not None and queue is self._outgoing:
            await queue.put(request)

    def _connection_lost(self) -> None:
        offer = self.offer
        if offer is not None:
            offer.end = time.monotonic()  # withdrawn when we connect again, or expiring
        self._outgoing = None


async def _cancel_when(stop: asyncio.Event, call: grpc.aio.StreamStreamCall) -> None:  # type: ignore[type-arg]
    await stop.wait()
    with contextlib.suppress(Exception):
        call.cancel()


def overlapping_holds(workers: list[ResilientWorker]) -> list[str]:
    """Tasks two workers held at the same moment, as they saw it."""
    by_task: dict[str, list[tuple[float, float, str]]] = {}
    for worker in workers:
        for hold in worker.holds:
            by_task.setdefault(hold.task_id, []).append((hold.start, hold.end, worker.worker_id))
    found = []
    for task_id, spans in by_task.items():
        spans.sort()
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start < end:
                found.append(f"{task_id}: {first} and {second}")
    return found
