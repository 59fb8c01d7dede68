"""The worker page's statement, reviews and appeals on the dispatcher: the worker's own token
passed on, every refusal a clear status, nothing served when payroll and scoring are not known."""

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dispatcher.adapters.memory_workers import MemoryWorkerRegistry
from dispatcher.domain.errors import PeerRefusedError
from dispatcher.entrypoints.http_records import records_router
from dispatcher.service_layer.auth import RegisterWorker, WorkerAuth
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.worker_tokens import JwtTokenCodec

SECRET = "a-test-secret-of-at-least-thirty-two-characters"


class RecordingRecords:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.refusal: Exception | None = None

    def _called(self, *call: str) -> None:
        self.calls.append(call)
        if self.refusal is not None:
            raise self.refusal

    async def statement(self, token: str, worker_id: str) -> dict[str, Any]:
        self._called("statement", token, worker_id)
        return {"worker_id": worker_id, "tasks_paid": 2}

    async def reviews(self, token: str, page_token: str) -> dict[str, Any]:
        self._called("reviews", token, page_token)
        return {"reviews": [], "next_page_token": ""}

    async def appeal(self, token: str, submission_id: str, statement: str) -> dict[str, Any]:
        self._called("appeal", token, submission_id, statement)
        return {"submission_id": submission_id, "state": "REVIEW_STATE_APPEALED"}


def _client(records: RecordingRecords | None) -> tuple[TestClient, str]:
    clock = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))
    ids = itertools.count(1)
    auth = WorkerAuth(
        JwtTokenCodec(SECRET),
        MemoryWorkerRegistry(clock),
        clock,
        3600,
        new_id=lambda: f"id-{next(ids)}",
    )
    app = FastAPI()
    app.include_router(records_router(records, auth))
    token = asyncio.run(auth.register(RegisterWorker(region="ke", worker_id="ana"))).token
    return TestClient(app), token


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_workers_own_token_and_id_go_to_payroll_and_scoring() -> None:
    records = RecordingRecords()
    client, token = _client(records)
    assert client.get("/v1/worker/statement", headers=_headers(token)).json()["tasks_paid"] == 2
    assert client.get("/v1/worker/reviews?page_token=x", headers=_headers(token)).status_code == 200
    appealed = client.post(
        "/v1/worker/appeals",
        headers=_headers(token),
        json={"submission_id": "s-1", "statement": "It was right."},
    )
    assert appealed.json()["state"] == "REVIEW_STATE_APPEALED"
    assert records.calls == [
        ("statement", token, "ana"),
        ("reviews", token, "x"),
        ("appeal", token, "s-1", "It was right."),
    ]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("FAILED_PRECONDITION", 409),
        ("NOT_FOUND", 404),
        ("INVALID_ARGUMENT", 422),
        ("UNAVAILABLE", 503),
    ],
)
def test_a_refusal_keeps_its_meaning(code: str, status: int) -> None:
    records = RecordingRecords()
    records.refusal = PeerRefusedError(code, "because")
    client, token = _client(records)
    answer = client.post(
        "/v1/worker/appeals", headers=_headers(token), json={"submission_id": "s", "statement": "x"}
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"statement": "x"}', b'{"submission_id": "s", "statement": 7}'],
)
def test_a_malformed_appeal_is_refused_before_anyone_is_asked(body: bytes) -> None:
    records = RecordingRecords()
    client, token = _client(records)
    answer = client.post("/v1/worker/appeals", headers=_headers(token), content=body)
    assert answer.status_code == 422
    assert records.calls == []


def test_without_a_valid_token_nothing_is_asked() -> None:
    records = RecordingRecords()
    client, _ = _client(records)
    for path in ("/v1/worker/statement", "/v1/worker/reviews"):
        answer = client.get(path, headers=_headers("forged"))
        assert answer.status_code == 401
        assert "WWW-Authenticate" in answer.headers
    assert records.calls == []


def test_nothing_is_served_where_payroll_and_scoring_are_not_known() -> None:
    client, token = _client(None)
    answer = client.get("/v1/worker/statement", headers=_headers(token))
    assert answer.status_code == 404


def test_an_unexpected_failure_is_a_retryable_503_not_a_500() -> None:
    records = RecordingRecords()
    records.refusal = RuntimeError("channel closed")
    client, token = _client(records)
    answer = client.get("/v1/worker/statement", headers=_headers(token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "UNAVAILABLE")
