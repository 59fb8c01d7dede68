"""A connected worker as the dispatcher sees it, and what it pushes to them.

Transports (gRPC stream now, WebSocket and SSE later) read `outbox` and translate the pushes;
the dispatcher never knows which transport a worker uses.
"""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from dispatcher.domain.model import Lease, Offer


@dataclass(frozen=True)
class Hello:
    worker_id: str
    region: str
    skills: frozenset[str]
    time_zone: str = "UTC"
    availability: tuple[str, ...] = ()
    sensitive_opt_in: bool = False
    # Pools scoring's quality estimates keep the worker out of (filled in at connection).
    excluded_pools: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Welcome:
    worker_id: str
    resumed: Lease | None


@dataclass(frozen=True)
class OfferPush:
    offer: Offer
    # When the scheduler decided on it: the start of a push's journey to the worker.
    offered_at: datetime


@dataclass(frozen=True)
class LeasePush:
    lease: Lease
    heartbeat_interval_s: int


@dataclass(frozen=True)
class OfferWithdrawnPush:
    offer_id: str
    reason: str


@dataclass(frozen=True)
class SubmitAcceptedPush:
    lease_id: str
    submission_id: str


@dataclass(frozen=True)
class ErrorPush:
    code: str
    message: str
    field: str = ""


@dataclass(frozen=True)
class Closed:
    """The dispatcher ends this connection (e.g. the worker connected again elsewhere)."""

    reason: str


Push = (
    Welcome | OfferPush | LeasePush | OfferWithdrawnPush | SubmitAcceptedPush | ErrorPush | Closed
)


# Why a connection whose client stopped reading (its outbox full) is closed.
OVERFLOWED = "more messages waiting for you than a connection holds: read them, then reconnect"
# Why a connection a newer one of the same worker took over is closed: the one reason a client
# should not reconnect by itself (it would only take the connection back).
SUPERSEDED = "connected again from elsewhere"


@dataclass(eq=False)
class WorkerSession:
    hello: Hello
    # Bounded: a worker has at most one offer and one lease, so a full outbox means a stuck
    # or flooding client; the dispatcher closes it rather than buffering without limit.
    outbox: asyncio.Queue[Push] = field(default_factory=lambda: asyncio.Queue(maxsize=64))
    offer_id: str | None = None
    # The lease this connection holds, as accepted or resumed here: a submit need not read it
    # back from the store (which still checks, as it completes it, that it is theirs and active).
    lease: Lease | None = None
    open: bool = True
    # Which connection of the worker this is: a later one, on any replica, supersedes it.
    seq: int = 0

    @property
    def worker_id(self) -> str:
        return self.hello.worker_id

    @property
    def lease_id(self) -> str | None:
        return None if self.lease is None else self.lease.lease_id

    @property
    def idle(self) -> bool:
        return self.open and self.offer_id is None and self.lease_id is None

    def push(self, message: Push) -> None:
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            # What is queued is dropped for the reason why: offers and leases are kept by the
            # dispatcher, and a reconnect resumes them.
            self.open = False
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.outbox.put_nowait(Closed(OVERFLOWED))


class Turns:
    """One holder at a time per worker; a worker's lock goes once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def of(self, worker_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(worker_id, asyncio.Lock())
        self._users[worker_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[worker_id] -= 1
            if not self._users[worker_id]:
                del self._users[worker_id], self._locks[worker_id]
