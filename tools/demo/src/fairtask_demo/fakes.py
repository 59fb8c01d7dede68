# ruff: noqa: N802  (servicer methods carry the names the service definitions give them)
"""In-process fakes of the dispatcher, scoring and payroll gRPC APIs, for testing the demo load
without the real services.

They keep just enough behaviour to be honest: exclusive offers, leases that survive a
disconnect, idempotent submission, results and pay per submitted task. Not for production use.
"""

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial

import grpc

from fairtask.v1 import (
    dispatcher_pb2,
    dispatcher_pb2_grpc,
    events_pb2,
    payroll_pb2,
    payroll_pb2_grpc,
    scoring_pb2,
    scoring_pb2_grpc,
)
from fairtask_runtime.api_keys import MemoryPlatformKeys
from fairtask_runtime.grpc.identity import PlatformAuthenticator
from fairtask_runtime.rate_limits import RateLimit
from fairtask_runtime.settings import DEFAULT_OPERATOR_PLATFORM_ID

Context = grpc.aio.ServicerContext[object, object]


@dataclass
class _Task:
    task_id: str
    platform: str
    client_task_id: str
    task_type: str
    state: dispatcher_pb2.TaskState = dispatcher_pb2.TASK_STATE_QUEUED
    worker_id: str = ""


@dataclass
class _Session:
    hello: dispatcher_pb2.Hello
    outbox: asyncio.Queue[dispatcher_pb2.ConnectResponse] = field(default_factory=asyncio.Queue)
    offer: tuple[str, str] | None = None  # (offer_id, task_id)


@dataclass
class FakeWorld:
    task_types: dict[tuple[str, str], dispatcher_pb2.TaskType] = field(default_factory=dict)
    tasks: dict[str, _Task] = field(default_factory=dict)
    queue: deque[str] = field(default_factory=deque)
    sessions: dict[str, _Session] = field(default_factory=dict)
    leases: dict[str, tuple[str, str]] = field(default_factory=dict)  # lease -> (task, worker)
    lease_of: dict[str, str] = field(default_factory=dict)  # worker -> active lease
    results: list[tuple[str, str]] = field(default_factory=list)  # (platform, task)
    paid: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    resumed: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    # The platform API keys, checked as the real services check them.
    keys: MemoryPlatformKeys = field(default_factory=MemoryPlatformKeys)
    # Calls per platform past which the fake answers RESOURCE_EXHAUSTED, as a service does.
    platform_rate: RateLimit | None = None

    def authenticator(self) -> PlatformAuthenticator:
        return PlatformAuthenticator(self.keys, cache_s=0, rate=self.platform_rate)

    def pump(self) -> None:
        for worker_id, session in self.sessions.items():
            if session.offer or worker_id in self.lease_of or not self.queue:
                continue
            task = self.tasks[self.queue.popleft()]
            t = self.task_types[(task.platform, task.task_type)]
            task.state = dispatcher_pb2.TASK_STATE_OFFERED
            session.offer = (uuid.uuid4().hex, task.task_id)
            session.outbox.put_nowait(
                dispatcher_pb2.ConnectResponse(
                    offer=dispatcher_pb2.Offer(
                        offer_id=session.offer[0],
                        task_id=task.task_id,
                        task_type=t.name,
                        price_micros=t.price_micros,
                        effort_seconds=t.effort_seconds,
                    )
                )
            )

    def results_beyond(self, position: int) -> bool:
        return len(self.results) > position

    def requeue_offer(self, session: _Session) -> None:
        if session.offer is not None:
            self.tasks[session.offer[1]].state = dispatcher_pb2.TASK_STATE_QUEUED
            self.queue.appendleft(session.offer[1])
            session.offer = None


class FakePlatformService(dispatcher_pb2_grpc.PlatformServiceServicer):
    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self._platforms = world.authenticator()

    async def DefineTaskType(
        self, request: dispatcher_pb2.DefineTaskTypeRequest, context: Context
    ) -> dispatcher_pb2.DefineTaskTypeResponse:
        platform = await self._platforms.platform_id(context)
        self.world.task_types[(platform, request.task_type.name)] = request.task_type
        return dispatcher_pb2.DefineTaskTypeResponse(task_type=request.task_type)

    async def SubmitTasks(
        self, request: dispatcher_pb2.SubmitTasksRequest, context: Context
    ) -> dispatcher_pb2.SubmitTasksResponse:
        platform, answers = await self._platforms.platform_id(context), []
        for new in request.tasks:
            task_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{platform}/{new.client_task_id}"))
            duplicate = task_id in self.world.tasks
            if not duplicate:
                self.world.tasks[task_id] = _Task(
                    task_id, platform, new.client_task_id, new.task_type
                )
                self.world.queue.append(task_id)
            answers.append(
                dispatcher_pb2.SubmittedTask(
                    client_task_id=new.client_task_id, task_id=task_id, duplicate=duplicate
                )
            )
        self.world.pump()
        return dispatcher_pb2.SubmitTasksResponse(tasks=answers)

    async def GetTask(
        self, request: dispatcher_pb2.GetTaskRequest, context: Context
    ) -> dispatcher_pb2.GetTaskResponse:
        platform = await self._platforms.platform_id(context)  # first, as the service does
        task = self.world.tasks.get(request.task_id)
        if task is None or task.platform != platform:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such task")
            raise AssertionError
        return dispatcher_pb2.GetTaskResponse(
            task_id=task.task_id,
            state=task.state,
            worker_id=task.worker_id,
        )

    async def CancelTask(
        self, request: dispatcher_pb2.CancelTaskRequest, context: Context
    ) -> dispatcher_pb2.CancelTaskResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the demo never cancels")
        raise AssertionError


class FakeWorkerService(dispatcher_pb2_grpc.WorkerServiceServicer):
    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    async def RegisterWorker(
        self, request: dispatcher_pb2.RegisterWorkerRequest, context: Context
    ) -> dispatcher_pb2.RegisterWorkerResponse:
        return dispatcher_pb2.RegisterWorkerResponse(
            worker_id=request.worker_id, token=f"token-of-{request.worker_id}"
        )

    async def Connect(
        self, request_iterator: AsyncIterator[dispatcher_pb2.ConnectRequest], context: Context
    ) -> AsyncIterator[dispatcher_pb2.ConnectResponse]:
        world = self.world
        hello = (await anext(request_iterator)).hello
        session = _Session(hello)
        old = world.sessions.get(hello.worker_id)
        if old is not None:
            world.requeue_offer(old)
        world.sessions[hello.worker_id] = session
        welcome = dispatcher_pb2.Welcome(worker_id=hello.worker_id)
        lease_id = world.lease_of.get(hello.worker_id)
        if lease_id is not None:
            world.resumed += 1
            lease = dispatcher_pb2.Lease(
                lease_id=lease_id, task_id=world.leases[lease_id][0], heartbeat_interval_seconds=1
            )
            welcome.resumed_lease.CopyFrom(lease)
        session.outbox.put_nowait(dispatcher_pb2.ConnectResponse(welcome=welcome))
        world.pump()
        reader = asyncio.create_task(self._read(request_iterator, session))
        try:
            while True:
                yield await session.outbox.get()
        finally:
            reader.cancel()
            if world.sessions.get(hello.worker_id) is session:
                del world.sessions[hello.worker_id]
                world.requeue_offer(session)
                world.pump()

    async def _read(
        self, requests: AsyncIterator[dispatcher_pb2.ConnectRequest], session: _Session
    ) -> None:
        world, worker_id = self.world, session.hello.worker_id
        async for request in requests:
            kind = request.WhichOneof("message")
            if kind == "accept" and session.offer and session.offer[0] == request.accept.offer_id:
                task = world.tasks[session.offer[1]]
                session.offer = None
                lease_id = uuid.uuid4().hex
                world.leases[lease_id] = (task.task_id, worker_id)
                world.lease_of[worker_id] = lease_id
                task.state, task.worker_id = dispatcher_pb2.TASK_STATE_LEASED, worker_id
                session.outbox.put_nowait(
                    dispatcher_pb2.ConnectResponse(
                        lease=dispatcher_pb2.Lease(
                            lease_id=lease_id, task_id=task.task_id, heartbeat_interval_seconds=1
                        )
                    )
                )
            elif kind == "decline":
                world.requeue_offer(session)
            elif kind == "submit":
                lease_id = request.submit.lease_id
                if world.lease_of.get(worker_id) != lease_id:
                    error = dispatcher_pb2.StreamError(code="NOT_FOUND", field="submit")
                    session.outbox.put_nowait(dispatcher_pb2.ConnectResponse(error=error))
                    continue
                del world.lease_of[worker_id]
                task = world.tasks[world.leases[lease_id][0]]
                task.state = dispatcher_pb2.TASK_STATE_SUBMITTED
                t = world.task_types[(task.platform, task.task_type)]
                world.paid.setdefault(worker_id, []).append(
                    (task.task_id, t.price_micros, t.effort_seconds)
                )
                async with world.changed:
                    world.results.append((task.platform, task.task_id))
                    world.changed.notify_all()
                session.outbox.put_nowait(
                    dispatcher_pb2.ConnectResponse(
                        submit_accepted=dispatcher_pb2.SubmitAccepted(lease_id=lease_id)
                    )
                )
            world.pump()


class FakeResults(scoring_pb2_grpc.ResultsServiceServicer):
    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self._platforms = world.authenticator()

    async def WatchResults(
        self, request: scoring_pb2.WatchResultsRequest, context: Context
    ) -> AsyncIterator[scoring_pb2.WatchResultsResponse]:
        platform = await self._platforms.platform_id(context)
        position = int(request.cursor or 0)
        while True:
            async with self.world.changed:
                await self.world.changed.wait_for(partial(self.world.results_beyond, position))
            for owner, task_id in self.world.results[position:]:
                position += 1
                if owner == platform:
                    yield scoring_pb2.WatchResultsResponse(cursor=str(position), task_id=task_id)


class FakeReviews(scoring_pb2_grpc.ReviewServiceServicer):
    """Nothing waits for review: the fake world approves every submission as it arrives."""

    def __init__(self, world: FakeWorld) -> None:
        self._platforms = world.authenticator()

    async def ListPendingReviews(
        self, request: scoring_pb2.ListPendingReviewsRequest, context: Context
    ) -> scoring_pb2.ListPendingReviewsResponse:
        await self._platforms.platform_id(context)
        return scoring_pb2.ListPendingReviewsResponse()

    async def ListOpenAppeals(
        self, request: scoring_pb2.ListOpenAppealsRequest, context: Context
    ) -> scoring_pb2.ListOpenAppealsResponse:
        await self._platforms.platform_id(context)
        return scoring_pb2.ListOpenAppealsResponse()

    async def ReviewSubmission(
        self, request: scoring_pb2.ReviewSubmissionRequest, context: Context
    ) -> scoring_pb2.ReviewSubmissionResponse:
        await context.abort(grpc.StatusCode.NOT_FOUND, "nothing waits for review here")
        raise AssertionError("abort returns only by raising")

    async def AnswerAppeal(
        self, request: scoring_pb2.AnswerAppealRequest, context: Context
    ) -> scoring_pb2.AnswerAppealResponse:
        await context.abort(grpc.StatusCode.NOT_FOUND, "nothing is under appeal here")
        raise AssertionError("abort returns only by raising")


class FakePayroll(payroll_pb2_grpc.PayrollServiceServicer):
    """Answers operators only, as the real payroll answers the demo load."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self._platforms = world.authenticator()

    async def _operator_only(self, context: Context) -> None:
        if await self._platforms.platform_id(context) != DEFAULT_OPERATOR_PLATFORM_ID:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "for operators only")

    async def GetStatement(
        self, request: payroll_pb2.GetStatementRequest, context: Context
    ) -> payroll_pb2.GetStatementResponse:
        await self._operator_only(context)
        paid = self.world.paid.get(request.worker_id, [])
        return payroll_pb2.GetStatementResponse(
            worker_id=request.worker_id,
            lines=[
                payroll_pb2.StatementLine(
                    task_id=t, kind=events_pb2.ENTRY_KIND_TASK_PAY, amount_micros=a, paid_seconds=s
                )
                for t, a, s in paid
            ],
            balance_micros=sum(a for _, a, _ in paid),
            tasks_paid=len(paid),
            paid_seconds=sum(s for _, _, s in paid),
        )

    async def GetLedgerSummary(
        self, request: payroll_pb2.GetLedgerSummaryRequest, context: Context
    ) -> payroll_pb2.GetLedgerSummaryResponse:
        await self._operator_only(context)
        total = sum(a for lines in self.world.paid.values() for _, a, _ in lines)
        return payroll_pb2.GetLedgerSummaryResponse(
            balanced=True, total_debits_micros=total, total_credits_micros=total
        )


class FakeEscrow(payroll_pb2_grpc.EscrowServiceServicer):
    """Takes deposits and says so; the fake world dispatches without holding anything."""

    def __init__(self, world: FakeWorld) -> None:
        self._platforms = world.authenticator()
        self.deposits: dict[str, int] = {}

    async def Deposit(
        self, request: payroll_pb2.DepositRequest, context: Context
    ) -> payroll_pb2.DepositResponse:
        platform = await self._platforms.platform_id(context)
        self.deposits[request.deposit_id] = request.amount_micros
        total = sum(self.deposits.values())
        return payroll_pb2.DepositResponse(
            escrow=payroll_pb2.EscrowBalance(
                platform_id=platform, deposited_micros=total, available_micros=total
            )
        )

    async def GetEscrow(
        self, request: payroll_pb2.GetEscrowRequest, context: Context
    ) -> payroll_pb2.GetEscrowResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in the fake world")
        raise AssertionError("abort returns only by raising")

    async def Withdraw(
        self, request: payroll_pb2.WithdrawRequest, context: Context
    ) -> payroll_pb2.WithdrawResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in the fake world")
        raise AssertionError("abort returns only by raising")

    async def HoldForTasks(
        self, request: payroll_pb2.HoldForTasksRequest, context: Context
    ) -> payroll_pb2.HoldForTasksResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in the fake world")
        raise AssertionError("abort returns only by raising")


@dataclass
class FakeServices:
    world: FakeWorld
    target: str


async def serve_fakes(world: FakeWorld | None = None) -> tuple[grpc.aio.Server, FakeServices]:
    """Starts all six fake services on one free loopback port."""
    world = world or FakeWorld()
    server = grpc.aio.server()
    dispatcher_pb2_grpc.add_PlatformServiceServicer_to_server(FakePlatformService(world), server)
    dispatcher_pb2_grpc.add_WorkerServiceServicer_to_server(FakeWorkerService(world), server)
    scoring_pb2_grpc.add_ResultsServiceServicer_to_server(FakeResults(world), server)
    scoring_pb2_grpc.add_ReviewServiceServicer_to_server(FakeReviews(world), server)
    payroll_pb2_grpc.add_PayrollServiceServicer_to_server(FakePayroll(world), server)
    payroll_pb2_grpc.add_EscrowServiceServicer_to_server(FakeEscrow(world), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, FakeServices(world, f"127.0.0.1:{port}")
