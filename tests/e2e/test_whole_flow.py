"""One task's whole journey through the three services as separate processes, on the real
Kafka, Redis and PostgreSQL: platform -> dispatcher -> worker -> scoring -> payroll."""

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest

from fairtask.v1 import dispatcher_pb2 as d
from fairtask.v1 import dispatcher_pb2_grpc as dg
from fairtask.v1 import events_pb2 as e
from fairtask.v1 import payroll_pb2 as p
from fairtask.v1 import payroll_pb2_grpc as pg
from fairtask.v1 import scoring_pb2 as s
from fairtask.v1 import scoring_pb2_grpc as sg
from fairtask_demo.supervisor import ServiceProcess, dispatcher_peers_env, plan, service_env
from fairtask_runtime.grpc.errors import ESCROW_INSUFFICIENT, error_info_of
from fairtask_runtime.grpc.identity import Metadata, bearer
from fairtask_runtime.settings import DEFAULT_OPERATOR_PLATFORM_ID

pytestmark = pytest.mark.integration

PRICE_MICROS = 400_000
# Shared by the dispatcher, which signs worker tokens, and payroll, which reads them.
TOKEN_SECRET = "end-to-end-worker-token-secret-32-chars"


@pytest.fixture
async def payroll_dsn(stack_endpoints: Any) -> AsyncIterator[str]:
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(stack_endpoints.postgres_dsn, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = stack_endpoints.postgres_dsn.rsplit("/", 1)[0]
        yield f"{base}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def keys() -> str:
    """The Redis key prefix of this test: every service's own, and the platform key store."""
    return f"e{uuid.uuid4().hex[:8]}"


async def issue_key(stack_endpoints: Any, keys: str, platform: str) -> Metadata:
    """An API key issued the way an operator issues one: with the CLI."""
    cli = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "fairtask_runtime.api_keys"),
        *("--redis", stack_endpoints.redis_url, "--prefix", f"{keys}:platform-keys:"),
        *("issue", "--platform", platform, "--label", "end-to-end test"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(cli.communicate(), 30)
    assert cli.returncode == 0, err.decode()
    return bearer(out.decode().strip())


@pytest.fixture
async def platform_key(stack_endpoints: Any, keys: str) -> Metadata:
    return await issue_key(stack_endpoints, keys, "lab-e2e")


@pytest.fixture
async def operator_key(stack_endpoints: Any, keys: str) -> Metadata:
    return await issue_key(stack_endpoints, keys, DEFAULT_OPERATOR_PLATFORM_ID)


@pytest.fixture
async def dispatcher_key(stack_endpoints: Any, keys: str) -> str:
    """The operator key the dispatcher holds escrow with."""
    metadata = await issue_key(stack_endpoints, keys, DEFAULT_OPERATOR_PLATFORM_ID)
    return dict(metadata)["authorization"].removeprefix("Bearer ")


@pytest.fixture
def services(
    stack_endpoints: Any,
    kafka_topics: str,
    payroll_dsn: str,
    tmp_path: Path,
    keys: str,
    dispatcher_key: str,
) -> Iterator[dict[str, ServiceProcess]]:
    planned = plan(tmp_path / "logs")
    running = {service.name: service for service in planned}
    for service in running.values():
        env = service_env(stack_endpoints.to_env(), service, kafka_topics)
        if service.name == "dispatcher":
            env |= dispatcher_peers_env(planned, dispatcher_key)
            # The gold task is held back by the mixing rate until its pool is idle this long.
            env["FAIRTASK_GOLD_IDLE_RELEASE_S"] = "1"
        env |= {
            "FAIRTASK_POSTGRES_DSN": payroll_dsn,
            "FAIRTASK_REDIS_PREFIX": f"{keys}:{service.name}:",
            "FAIRTASK_PLATFORM_KEYS_PREFIX": f"{keys}:platform-keys:",
            "FAIRTASK_SHUTDOWN_GRACE_S": "3",
            "FAIRTASK_WORKER_TOKEN_SECRET": TOKEN_SECRET,
        }
        service.start(env, Path.cwd())
    yield running
    for service in running.values():
        if service.process is not None and service.process.poll() is None:
            service.process.kill()


async def eventually(probe: Any, wait_s: float = 30) -> Any:
    """Retries `probe` until it returns something truthy (services are eventually consistent)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        result = await probe()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(0.3)


async def work_through(
    channel: grpc.aio.Channel, worker_id: str, tasks: int
) -> tuple[str, list[str]]:
    """A worker who accepts and submits `tasks` offers; returns their token and the submission
    ids."""
    outgoing: asyncio.Queue[d.ConnectRequest | None] = asyncio.Queue()

    async def requests() -> AsyncIterator[d.ConnectRequest]:
        while (message := await outgoing.get()) is not None:
            yield message

    workers = dg.WorkerServiceStub(channel)
    # Available all day: the default quiet hours would make this test depend on the clock.
    registered = await workers.RegisterWorker(
        d.RegisterWorkerRequest(
            worker_id=worker_id, region="ke", skills=["en"], availability=["00:00-24:00"]
        ),
        timeout=10,
    )
    await outgoing.put(d.ConnectRequest(hello=d.Hello(token=registered.token)))
    call = workers.Connect(requests())
    submissions: list[str] = []
    async for message in call:
        kind = message.WhichOneof("message")
        if kind == "offer":
            await outgoing.put(d.ConnectRequest(accept=d.Accept(offer_id=message.offer.offer_id)))
        elif kind == "lease":
            answer = d.Submit(lease_id=message.lease.lease_id, answer=b"car")
            await outgoing.put(d.ConnectRequest(submit=answer))
        elif kind == "submit_accepted":
            submissions.append(message.submit_accepted.submission_id)
            if len(submissions) == tasks:
                break
        elif kind == "error":
            raise AssertionError(message.error)
    await outgoing.put(None)
    call.cancel()
    return registered.token, submissions


async def test_a_task_travels_from_platform_to_ledger(
    services: dict[str, ServiceProcess],
    platform_key: Metadata,
    operator_key: Metadata,
    payroll_dsn: str,
) -> None:
    for service in services.values():
        await service.wait_healthy(60)
    dispatcher = grpc.aio.insecure_channel(services["dispatcher"].grpc_target)
    scoring = grpc.aio.insecure_channel(services["scoring"].grpc_target)
    payroll = grpc.aio.insecure_channel(services["payroll"].grpc_target)
    platform = dg.PlatformServiceStub(dispatcher)
    await platform.DefineTaskType(
        d.DefineTaskTypeRequest(
            task_type=d.TaskType(
                name="image-bbox",
                purpose="Lab E2E trains a model that finds cars in street photos",
                price_micros=PRICE_MICROS,
                effort_seconds=90,
                skills=["en"],
            )
        ),
        metadata=platform_key,
        timeout=5,
    )
    batch = [
        d.NewTask(client_task_id=f"e2e-{i}", task_type="image-bbox", payload=b"img")
        for i in range(2)
    ]
    batch.append(
        d.NewTask(
            client_task_id="e2e-gold", task_type="image-bbox", payload=b"img", gold_answer="car"
        )
    )
    # Unfunded, nothing is accepted; funded, the three tasks hold their prices.
    with pytest.raises(grpc.aio.AioRpcError) as unfunded:
        await platform.SubmitTasks(
            d.SubmitTasksRequest(tasks=batch), metadata=platform_key, timeout=10
        )
    assert unfunded.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info_of(unfunded.value)
    assert info is not None
    assert (info.reason, info.metadata["needed_micros"]) == (
        ESCROW_INSUFFICIENT,
        str(3 * PRICE_MICROS),
    )
    escrow = pg.EscrowServiceStub(payroll)
    funded = await escrow.Deposit(
        p.DepositRequest(deposit_id="e2e-1", amount_micros=5 * PRICE_MICROS),
        metadata=platform_key,
        timeout=10,
    )
    assert funded.escrow.available_micros == 5 * PRICE_MICROS
    submitted = await platform.SubmitTasks(
        d.SubmitTasksRequest(tasks=batch), metadata=platform_key, timeout=10
    )
    assert len({t.task_id for t in submitted.tasks}) == 3
    held = await escrow.GetEscrow(p.GetEscrowRequest(), metadata=platform_key, timeout=10)
    assert (held.escrow.held_micros, held.escrow.available_micros) == (
        3 * PRICE_MICROS,
        2 * PRICE_MICROS,
    )

    async def confirmed() -> bool:
        """Payroll saw the tasks published: their holds will not lapse."""
        conn = await asyncpg.connect(payroll_dsn, timeout=10)
        try:
            unconfirmed = await conn.fetchval(
                "SELECT count(*) FILTER (WHERE unconfirmed_until IS NOT NULL) FROM escrow_holds"
            )
            holds = await conn.fetchval("SELECT count(*) FROM escrow_holds")
        finally:
            await conn.close()
        return bool((holds, unconfirmed) == (3, 0))

    assert await eventually(confirmed), "payroll never confirmed the holds of published tasks"

    token, submissions = await asyncio.wait_for(work_through(dispatcher, "w-e2e", 3), 60)
    assert len(set(submissions)) == 3

    # The platform reviews the two ordinary submissions (gold is scoring's to check): it
    # approves one and rejects the other with a reason; the worker appeals with the token the
    # dispatcher issued them, and the platform grants the appeal.
    reviews = sg.ReviewServiceStub(scoring)

    async def pending() -> list[s.Review] | None:
        page = await reviews.ListPendingReviews(
            s.ListPendingReviewsRequest(), metadata=platform_key, timeout=5
        )
        return list(page.reviews) if len(page.reviews) == 2 else None

    waiting = await eventually(pending)
    assert waiting is not None, "scoring never opened the two reviews"
    approved, rejected = sorted(waiting, key=lambda r: r.client_task_id)
    await reviews.ReviewSubmission(
        s.ReviewSubmissionRequest(submission_id=approved.submission_id, approve=s.Approve()),
        metadata=platform_key,
        timeout=5,
    )
    await reviews.ReviewSubmission(
        s.ReviewSubmissionRequest(
            submission_id=rejected.submission_id,
            reject=s.Reject(
                reason=e.REJECTION_REASON_INCOMPLETE,
                explanation="The box misses the car's rear half: the instructions ask for one "
                "box around the whole car, bumpers included.",
            ),
        ),
        metadata=platform_key,
        timeout=5,
    )
    # The worker sees the rejection on the worker page and appeals there: the dispatcher
    # passes their token on to scoring.
    page = services["dispatcher"].metrics_url.removesuffix("/metrics")
    worker_auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=page, timeout=10) as http:
        mine = await http.get("/v1/worker/reviews", headers=worker_auth)
        assert mine.status_code == 200, mine.text
        states = {r["submission_id"]: r["state"] for r in mine.json()["reviews"]}
        assert states[rejected.submission_id] == "REVIEW_STATE_REJECTED"
        assert len(states) == 3  # the gold answer's review too, approved at once
        appealed = await http.post(
            "/v1/worker/appeals",
            headers=worker_auth,
            json={
                "submission_id": rejected.submission_id,
                "statement": "The rear half is behind a bus.",
            },
        )
        assert appealed.status_code == 200, appealed.text
        assert appealed.json()["state"] == "REVIEW_STATE_APPEALED"
        again = await http.post(
            "/v1/worker/appeals",
            headers=worker_auth,
            json={"submission_id": rejected.submission_id, "statement": "Again."},
        )
        assert again.status_code == 409, again.text
    await reviews.AnswerAppeal(
        s.AnswerAppealRequest(submission_id=rejected.submission_id, grant=True),
        metadata=platform_key,
        timeout=5,
    )

    # Scoring released the two ordinary results to the platform; the gold task stays private.
    results: list[s.WatchResultsResponse] = []
    watch = sg.ResultsServiceStub(scoring).WatchResults(
        s.WatchResultsRequest(), metadata=platform_key, timeout=30
    )
    async for result in watch:
        results.append(result)
        if len(results) == 2:
            break
    watch.cancel()
    assert sorted(r.client_task_id for r in results) == ["e2e-0", "e2e-1"]
    assert all(r.answer == b"car" and r.worker_id == "w-e2e" for r in results)

    # Payroll paid each of the three once, from balanced postings; the worker reads their own
    # statement with the token the dispatcher issued them.
    ledger = pg.PayrollServiceStub(payroll)

    async def statement() -> p.GetStatementResponse | None:
        try:
            answer = await ledger.GetStatement(
                p.GetStatementRequest(worker_id="w-e2e"), metadata=bearer(token), timeout=5
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return answer if answer.tasks_paid == 3 else None

    paid = await eventually(statement)
    assert paid is not None, "payroll never paid the three submissions"
    # Earned: still owed, or paid out already if a payout batch ran meanwhile.
    assert paid.balance_micros + paid.paid_out_micros == 3 * PRICE_MICROS
    # And on the worker page, through the dispatcher.
    async with httpx.AsyncClient(base_url=page, timeout=10) as http:
        shown = await http.get("/v1/worker/statement", headers=worker_auth)
    assert shown.status_code == 200, shown.text
    earned = shown.json()["balance_micros"] + shown.json()["paid_out_micros"]
    assert (shown.json()["tasks_paid"], earned) == (3, 3 * PRICE_MICROS)
    summary = await ledger.GetLedgerSummary(
        p.GetLedgerSummaryRequest(), metadata=operator_key, timeout=5
    )
    assert summary.balanced
    assert {r.region: r.tasks_paid for r in summary.regions} == {"ke": 3}
    # Approval moved the held escrow to the worker; the unused funds can be withdrawn.
    spent = await escrow.GetEscrow(p.GetEscrowRequest(), metadata=platform_key, timeout=10)
    assert (spent.escrow.spent_micros, spent.escrow.held_micros) == (3 * PRICE_MICROS, 0)
    left = await escrow.Withdraw(
        p.WithdrawRequest(withdrawal_id="e2e-w1", amount_micros=2 * PRICE_MICROS),
        metadata=platform_key,
        timeout=10,
    )
    assert left.escrow.available_micros == 0

    # Signed out at the dispatcher, the token no longer reads the statement at payroll either.
    async with httpx.AsyncClient(base_url=page, timeout=10) as http:
        signed_out = await http.delete(
            "/v1/worker/token", headers={"Authorization": f"Bearer {token}"}
        )
    assert signed_out.status_code in (200, 204), signed_out.text
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ledger.GetStatement(
            p.GetStatementRequest(worker_id="w-e2e"), metadata=bearer(token), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    for channel in (dispatcher, scoring, payroll):
        await channel.close()

    # SIGTERM: each service stops taking work, finishes, commits and exits cleanly.
    for service in services.values():
        await service.stop(grace_s=20)
        assert service.exit_code() == 0, service.log_tail()


VOTE_PRICE = 100_000


async def _healthy_channels(
    services: dict[str, ServiceProcess],
) -> tuple[grpc.aio.Channel, grpc.aio.Channel, grpc.aio.Channel]:
    """Channels to the dispatcher, scoring and payroll, once each is healthy."""
    for service in services.values():
        await service.wait_healthy(60)
    return (
        grpc.aio.insecure_channel(services["dispatcher"].grpc_target),
        grpc.aio.insecure_channel(services["scoring"].grpc_target),
        grpc.aio.insecure_channel(services["payroll"].grpc_target),
    )


async def _task_asking_two_or_three_answers(
    dispatcher: grpc.aio.Channel, payroll: grpc.aio.Channel, platform_key: Metadata
) -> str:
    """A task of a type asking for two answers that agree (a third if they disagree), its
    three answers funded up front; returns its id."""
    await dg.PlatformServiceStub(dispatcher).DefineTaskType(
        d.DefineTaskTypeRequest(
            task_type=d.TaskType(
                name="car-or-not",
                purpose="Lab E2E checks which street photos show a car at all",
                price_micros=VOTE_PRICE,
                effort_seconds=20,
                skills=["en"],
                overlap=e.Overlap(min_answers=2, max_answers=3, confidence_target=0.8),
            )
        ),
        metadata=platform_key,
        timeout=5,
    )
    escrow = pg.EscrowServiceStub(payroll)
    await escrow.Deposit(
        p.DepositRequest(deposit_id="e2e-vote", amount_micros=3 * VOTE_PRICE),
        metadata=platform_key,
        timeout=10,
    )
    submitted = await dg.PlatformServiceStub(dispatcher).SubmitTasks(
        d.SubmitTasksRequest(
            tasks=[d.NewTask(client_task_id="vote-1", task_type="car-or-not", payload=b"img")]
        ),
        metadata=platform_key,
        timeout=10,
    )
    held = await escrow.GetEscrow(p.GetEscrowRequest(), metadata=platform_key, timeout=10)
    assert held.escrow.held_micros == 3 * VOTE_PRICE  # every answer it may need
    return submitted.tasks[0].task_id


async def _approve_and_watch_until_the_aggregate(
    scoring: grpc.aio.Channel, platform_key: Metadata, answers: int
) -> tuple[list[s.WatchResultsResponse], s.WatchResultsResponse]:
    """Approves the task's `answers` answers once their reviews are open; returns the results
    released to the platform, the answers and then their aggregate."""
    reviews = sg.ReviewServiceStub(scoring)

    async def pending() -> list[s.Review] | None:
        page = await reviews.ListPendingReviews(
            s.ListPendingReviewsRequest(), metadata=platform_key, timeout=5
        )
        return list(page.reviews) if len(page.reviews) == answers else None

    waiting = await eventually(pending)
    assert waiting is not None, f"scoring never opened {answers} answers' reviews"
    for review in waiting:
        await reviews.ReviewSubmission(
            s.ReviewSubmissionRequest(submission_id=review.submission_id, approve=s.Approve()),
            metadata=platform_key,
            timeout=5,
        )
    results: list[s.WatchResultsResponse] = []
    watch = sg.ResultsServiceStub(scoring).WatchResults(
        s.WatchResultsRequest(), metadata=platform_key, timeout=30
    )
    async for result in watch:
        results.append(result)
        if result.aggregate:
            break
    watch.cancel()
    return results[:-1], results[-1]


async def _escrow_once_released(
    payroll: grpc.aio.Channel, platform_key: Metadata
) -> p.GetEscrowResponse:
    escrow = pg.EscrowServiceStub(payroll)

    async def settled() -> p.GetEscrowResponse | None:
        now = await escrow.GetEscrow(p.GetEscrowRequest(), metadata=platform_key, timeout=10)
        return now if now.escrow.held_micros == 0 else None

    final = await eventually(settled)
    assert final is not None, "the unused answers' holds were never released"
    return final


async def test_two_workers_answer_a_task_and_the_platform_gets_their_aggregate(
    services: dict[str, ServiceProcess], platform_key: Metadata
) -> None:
    """Two workers answer, the platform pays both and receives both answers and then their
    aggregate; the third answer's escrow is released unused."""
    dispatcher, scoring, payroll = await _healthy_channels(services)
    task_id = await _task_asking_two_or_three_answers(dispatcher, payroll, platform_key)

    # Each worker answers once: the second answer goes to whoever did not give the first.
    answered = await asyncio.wait_for(
        asyncio.gather(
            work_through(dispatcher, "w-vote-1", 1), work_through(dispatcher, "w-vote-2", 1)
        ),
        60,
    )
    assert len({sid for _, sids in answered for sid in sids}) == 2

    answers, aggregate = await _approve_and_watch_until_the_aggregate(scoring, platform_key, 2)
    # Both answers, under the platform's own task id, then the aggregate of the two.
    assert sorted(r.worker_id for r in answers) == ["w-vote-1", "w-vote-2"]
    assert {r.task_id for r in answers} == {task_id}
    assert (aggregate.task_id, aggregate.client_task_id) == (task_id, "vote-1")
    assert (aggregate.answer, aggregate.answers, aggregate.worker_id) == (b"car", 2, "")
    assert aggregate.confident
    assert aggregate.confidence >= 0.8

    final = await _escrow_once_released(payroll, platform_key)
    assert (final.escrow.spent_micros, final.escrow.available_micros) == (
        2 * VOTE_PRICE,
        VOTE_PRICE,
    )
    for channel in (dispatcher, scoring, payroll):
        await channel.close()


async def test_a_task_cancelled_after_one_answer_is_settled_with_that_answer(
    services: dict[str, ServiceProcess], platform_key: Metadata
) -> None:
    """The platform cancels a task that wants a second answer once the first is in: the
    second answer is withdrawn, scoring settles the task with the answer it has (short of
    its minimum, so not confident), the platform receives it, and the two unused answers'
    escrow is released."""
    dispatcher, scoring, payroll = await _healthy_channels(services)
    task_id = await _task_asking_two_or_three_answers(dispatcher, payroll, platform_key)
    await asyncio.wait_for(work_through(dispatcher, "w-vote-1", 1), 60)

    cancelled = await dg.PlatformServiceStub(dispatcher).CancelTask(
        d.CancelTaskRequest(task_id=task_id, reason="enough data"),
        metadata=platform_key,
        timeout=10,
    )
    assert cancelled.state == d.TASK_STATE_CANCELLED

    [answer], aggregate = await _approve_and_watch_until_the_aggregate(scoring, platform_key, 1)
    assert (answer.task_id, answer.worker_id) == (task_id, "w-vote-1")
    assert (aggregate.task_id, aggregate.answer, aggregate.answers) == (task_id, b"car", 1)
    assert not aggregate.confident
    final = await _escrow_once_released(payroll, platform_key)
    assert (final.escrow.spent_micros, final.escrow.available_micros) == (
        VOTE_PRICE,
        2 * VOTE_PRICE,
    )
    for channel in (dispatcher, scoring, payroll):
        await channel.close()


async def test_every_service_exports_metrics_promtool_accepts(
    services: dict[str, ServiceProcess],
) -> None:
    """Prometheus naming conventions on each service's live /metrics (promtool check metrics:
    base units, _total counters, help text)."""
    for service in services.values():
        await service.wait_healthy(60)
    async with httpx.AsyncClient(timeout=10) as http:
        for service in services.values():
            exposition = (await http.get(service.metrics_url)).text
            assert "fairtask_" in exposition, service.name
            promtool = await asyncio.create_subprocess_exec(
                *("promtool", "check", "metrics"),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            said, _ = await asyncio.wait_for(promtool.communicate(exposition.encode()), 30)
            assert promtool.returncode == 0, f"{service.name}: {said.decode()}"
