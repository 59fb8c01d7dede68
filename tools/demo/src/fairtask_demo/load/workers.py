"""A simulated worker holding one WorkerService.Connect stream, as a real worker's app would.

It says Hello, accepts offers (declining a few), works each lease for its effort compressed by
the time scale while heartbeating, submits, and reconnects when the stream breaks; a resumed
lease is carried on where it stopped. `cut_power` drops the stream for a while to exercise the
dispatcher's grace period.
"""

import asyncio
import random
from dataclasses import dataclass

import grpc

from fairtask.v1 import dispatcher_pb2, dispatcher_pb2_grpc
from fairtask_demo.config import DemoConfig
from fairtask_demo.load.registry import Registry
from fairtask_demo.load.truth import answer_of
from fairtask_demo.model import WorkerTally
from fairtask_demo.windows import inside_any, local_minute, now_utc, parse_window, zone

Call = grpc.aio.StreamStreamCall[dispatcher_pb2.ConnectRequest, dispatcher_pb2.ConnectResponse]

_DEFAULT_EFFORT_S = 60
_RETRY_S = 1.0
_MAX_BACKOFF_S = 5.0
# Errors meaning the lease is no longer ours to work on (released, or already submitted).
_LEASE_GONE = frozenset({"NOT_FOUND", "ALREADY_EXISTS", "FAILED_PRECONDITION"})


@dataclass
class _Work:
    lease_id: str
    task_id: str
    remaining_s: float
    heartbeat_s: float
    payload: bytes = b""
    submitted: bool = False


class WorkerSim:
    def __init__(
        self,
        tally: WorkerTally,
        channel: grpc.aio.Channel,
        config: DemoConfig,
        registry: Registry,
    ) -> None:
        self.tally = tally
        self._stub = dispatcher_pb2_grpc.WorkerServiceStub(channel)
        self._config = config
        self._registry = registry
        profile = tally.profile
        self._rng = random.Random(f"{config.seed}:worker:{profile.worker_id}")
        self._accuracy = self._rng.uniform(*config.worker_accuracy)
        self._tz = zone(profile.time_zone, profile.utc_offset_hours)
        self._windows = tuple(parse_window(w) for w in profile.availability)
        self._effort_by_task: dict[str, int] = {}
        self._work: _Work | None = None
        self._session: asyncio.Task[None] | None = None
        self._outage_s = 0.0
        self._closing = False
        self._token: str | None = None
        self._write_lock = asyncio.Lock()
        # The accept or decline of the offer in hand, and its retries after a hiccup.
        self._answer: dispatcher_pb2.ConnectRequest | None = None
        self._retries: set[asyncio.Task[None]] = set()

    # -- control, from the runner --------------------------------------------------------
    def cut_power(self, seconds: float) -> bool:
        """Drops the connection now and stays offline for `seconds`. False if not connected."""
        if self._closing or not self.tally.connected or self._session is None:
            return False
        self._outage_s = seconds
        self.tally.power_cuts += 1
        self._session.cancel()
        return True

    def close(self) -> None:
        self._closing = True
        if self._session is not None:
            self._session.cancel()

    @property
    def busy(self) -> bool:
        return self._work is not None

    # -- the connection loop -------------------------------------------------------------
    async def run(self) -> None:
        """Stays connected until `close()`; a broken stream is retried with backoff."""
        backoff_s = 0.2
        while not self._closing:
            connects_before = self.tally.connects
            self._session = asyncio.create_task(self._connect_once())
            try:
                # wait(), not await: a power cut cancels the session task, not this loop.
                await asyncio.wait({self._session})
            finally:
                if not self._session.done():
                    self._session.cancel()
                    await asyncio.gather(self._session, return_exceptions=True)
            if not self._session.cancelled() and self._session.exception() is not None:
                self._note(f"stream failed: {self._session.exception()!r}")
            if self._closing:
                break
            if self._outage_s > 0:
                outage, self._outage_s = self._outage_s, 0.0
                await asyncio.sleep(outage)
                continue
            backoff_s = 0.2 if self.tally.connects > connects_before else backoff_s
            await asyncio.sleep(backoff_s * (0.5 + self._rng.random()))
            backoff_s = min(backoff_s * 2, _MAX_BACKOFF_S)

    async def _register(self) -> str:
        """Signs the worker up once; the dispatcher's token names them on every connection."""
        if self._token is None:
            p = self.tally.profile
            issued = await self._stub.RegisterWorker(
                dispatcher_pb2.RegisterWorkerRequest(
                    worker_id=p.worker_id,
                    region=p.region,
                    skills=list(p.skills),
                    time_zone=p.time_zone,
                    availability=list(p.availability),
                ),
                timeout=10,
            )
            self._token = issued.token
        return self._token

    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        token = await self._register()
        # No deadline on purpose: the stream lives exactly as long as the worker is online.
        call: Call = self._stub.Connect()
        worker: asyncio.Task[None] | None = None
        connected_at: float | None = None
        try:
            await call.write(dispatcher_pb2.ConnectRequest(hello=self._hello(token)))
            while True:
                message = await call.read()
                if message is grpc.aio.EOF:
                    return
                assert isinstance(message, dispatcher_pb2.ConnectResponse)
                kind = message.WhichOneof("message")
                if kind == "welcome":
                    connected_at = loop.time()
                    self.tally.connected = True
                    self.tally.connects += 1
                    worker = self._on_welcome(call, message.welcome, worker)
                elif kind == "offer":
                    await self._on_offer(call, message.offer)
                elif kind == "lease":
                    worker = self._on_lease(call, message.lease, worker)
                elif kind == "offer_withdrawn":
                    self.tally.withdrawn += 1
                elif kind == "submit_accepted":
                    if self._work and self._work.lease_id == message.submit_accepted.lease_id:
                        self._work = None
                    self.tally.completed += 1
                elif kind == "error":
                    worker = self._on_error(call, message.error, worker)
        finally:
            # A new connection withdraws the offer in hand: nothing left to answer.
            self._answer = None
            for retry in list(self._retries):
                retry.cancel()
            if worker is not None:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)
            if connected_at is not None:
                self.tally.eligible_seconds += loop.time() - connected_at
            self.tally.connected = False
            call.cancel()

    def _hello(self, token: str) -> dispatcher_pb2.Hello:
        p = self.tally.profile
        return dispatcher_pb2.Hello(
            token=token,
            worker_id=p.worker_id,
            region=p.region,
            skills=list(p.skills),
            time_zone=p.time_zone,
            availability=list(p.availability),
        )

    # -- what the dispatcher sends -------------------------------------------------------
    def _on_welcome(
        self, call: Call, welcome: dispatcher_pb2.Welcome, worker: asyncio.Task[None] | None
    ) -> asyncio.Task[None] | None:
        if not welcome.HasField("resumed_lease"):
            # Whatever we were doing was submitted or released while we were away.
            self._work = None
            return worker
        self.tally.resumed_leases += 1
        return self._on_lease(call, welcome.resumed_lease, worker)

    async def _on_offer(self, call: Call, offer: dispatcher_pb2.Offer) -> None:
        self.tally.offers += 1
        if not inside_any(self._windows, local_minute(now_utc(), self._tz)):
            self.tally.pushes_outside_window += 1
        self._effort_by_task[offer.task_id] = offer.effort_seconds
        if self._rng.random() < self._config.decline_share:
            self.tally.declines += 1
            request = dispatcher_pb2.ConnectRequest(
                decline=dispatcher_pb2.Decline(offer_id=offer.offer_id)
            )
        else:
            request = dispatcher_pb2.ConnectRequest(
                accept=dispatcher_pb2.Accept(offer_id=offer.offer_id)
            )
        self._answer = request
        await self._write(call, request)

    def _on_lease(
        self, call: Call, lease: dispatcher_pb2.Lease, worker: asyncio.Task[None] | None
    ) -> asyncio.Task[None] | None:
        if self._work is not None and self._work.lease_id == lease.lease_id and worker is not None:
            return worker  # announced twice on one connection (Welcome, then Lease)
        if worker is not None:
            worker.cancel()
        if self._work is None or self._work.lease_id != lease.lease_id:
            effort = (
                self._effort_by_task.pop(lease.task_id, None)
                or self._registry.effort_of(lease.task_id)
                or _DEFAULT_EFFORT_S
            )
            self._work = _Work(
                lease_id=lease.lease_id,
                task_id=lease.task_id,
                remaining_s=effort * self._config.time_scale,
                heartbeat_s=float(lease.heartbeat_interval_seconds or 10),
                payload=lease.payload,
            )
        return asyncio.create_task(self._do_work(call, self._work))

    def _on_error(
        self, call: Call, error: dispatcher_pb2.StreamError, worker: asyncio.Task[None] | None
    ) -> asyncio.Task[None] | None:
        self.tally.stream_errors[error.code or "UNKNOWN"] += 1
        if error.field == "connection":
            return worker  # the dispatcher is closing this stream; EOF follows and we reconnect
        work = self._work
        if error.code == "UNAVAILABLE" and error.field == "submit" and work is not None:
            # Not done this time (a dispatcher hiccup); a heartbeat lost is followed by the next.
            if worker is not None:
                worker.cancel()
            return asyncio.create_task(self._submit_again(call, work))
        if error.code == "UNAVAILABLE" and error.field in ("accept", "decline") and self._answer:
            # The offer still stands (until it expires, minutes on): answered again, as a
            # person would click again, or it would hold this worker and its task till then.
            retry = asyncio.create_task(self._answer_again(call, self._answer))
            self._retries.add(retry)
            retry.add_done_callback(self._retries.discard)
            return worker
        # The error names no lease: it is about ours if it answers what we last sent for it, or
        # if the dispatcher says the lease we hold ended (field "lease").
        about_ours = work is not None and (error.field == "submit") == work.submitted
        gone = error.field in ("submit", "heartbeat") and error.code in _LEASE_GONE and about_ours
        if gone or (error.field == "lease" and work is not None):
            self._work = None
            if worker is not None:
                worker.cancel()
            return None
        self._note(f"stream error {error.code} on {error.field}: {error.message}")
        return worker

    async def _submit_again(self, call: Call, work: _Work) -> None:
        await asyncio.sleep(_RETRY_S)
        await self._submit(call, work)

    async def _answer_again(self, call: Call, request: dispatcher_pb2.ConnectRequest) -> None:
        await asyncio.sleep(_RETRY_S)
        if request is self._answer:  # no newer offer meanwhile
            await self._write(call, request)

    # -- working a lease -----------------------------------------------------------------
    async def _do_work(self, call: Call, work: _Work) -> None:
        """Works off `work.remaining_s`, heartbeating; a cancel keeps what remains for later."""
        loop = asyncio.get_running_loop()
        if work.submitted:
            await self._submit(call, work)  # the answer may have been lost with the stream
            return
        await self._heartbeat(call, work)
        while work.remaining_s > 0:
            step = min(work.remaining_s, work.heartbeat_s)
            started = loop.time()
            try:
                await asyncio.sleep(step)
            finally:
                work.remaining_s -= loop.time() - started
            if work.remaining_s > 0:
                await self._heartbeat(call, work)
        await self._submit(call, work)

    async def _heartbeat(self, call: Call, work: _Work) -> None:
        draft = f"{work.task_id}:{max(work.remaining_s, 0):.2f}s left".encode()
        await self._write(
            call,
            dispatcher_pb2.ConnectRequest(
                heartbeat=dispatcher_pb2.Heartbeat(lease_id=work.lease_id, draft=draft)
            ),
        )

    async def _submit(self, call: Call, work: _Work) -> None:
        # Right with the worker's own accuracy, gold or not: workers cannot tell gold apart.
        self.tally.submit_sent_at.setdefault(work.task_id, now_utc())
        work.submitted = True
        answer = answer_of(work.payload, self._accuracy, self._rng).encode()
        await self._write(
            call,
            dispatcher_pb2.ConnectRequest(
                submit=dispatcher_pb2.Submit(lease_id=work.lease_id, answer=answer)
            ),
        )

    async def _write(self, call: Call, request: dispatcher_pb2.ConnectRequest) -> None:
        # grpc.aio allows one write at a time; offers and the work task may both write.
        async with self._write_lock:
            await call.write(request)

    def _note(self, text: str) -> None:
        self._registry.note_problem(f"worker: {text}")
