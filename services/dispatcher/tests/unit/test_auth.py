"""Worker tokens: issued at registration, verified on every connection, expiring, revocable."""

import base64
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import orjson
import pytest

from dispatcher.adapters.memory_workers import MemoryWorkerRegistry
from dispatcher.domain.errors import ConflictError, InvalidInputError
from dispatcher.service_layer.auth import (
    HelloOverrides,
    RegisterWorker,
    UnauthenticatedError,
    WorkerAuth,
    hello_for,
)
from fairtask_runtime.clock import FakeClock
from fairtask_runtime.worker_tokens import MAX_TOKEN_CHARS, JwtTokenCodec, token_secret

SECRET = "unit-test-secret-that-is-long-enough-1234"
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TTL_S = 3600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def auth(clock: FakeClock) -> WorkerAuth:
    counter = itertools.count(1)
    return WorkerAuth(
        JwtTokenCodec(SECRET),
        MemoryWorkerRegistry(clock),
        clock,
        TTL_S,
        new_id=lambda: f"id-{next(counter)}",
    )


REGISTRATION = RegisterWorker(
    region="ph",
    worker_id="maria",
    time_zone="Asia/Manila",
    skills=("en", "tl"),
    availability=("08:00-12:00", "18:00-22:00"),
    sensitive_opt_in=True,
)


async def test_a_registration_gets_a_token_that_says_who_and_what(auth: WorkerAuth) -> None:
    issued = await auth.register(REGISTRATION)

    claims = await auth.authenticate(issued.token)

    assert claims == issued.claims
    assert (claims.worker_id, claims.region, claims.time_zone) == ("maria", "ph", "Asia/Manila")
    assert (claims.skills, claims.availability) == (REGISTRATION.skills, REGISTRATION.availability)
    assert claims.sensitive_opt_in
    assert claims.expires_at == START + timedelta(seconds=TTL_S)


async def test_without_a_worker_id_one_is_minted(auth: WorkerAuth) -> None:
    first = await auth.register(RegisterWorker(region="ke"))
    second = await auth.register(RegisterWorker(region="ke"))

    assert first.claims.worker_id.startswith("w-")
    assert first.claims.worker_id != second.claims.worker_id


async def test_a_worker_id_can_be_registered_once(auth: WorkerAuth) -> None:
    await auth.register(REGISTRATION)

    with pytest.raises(ConflictError):
        await auth.register(replace(REGISTRATION, region="us"))


async def test_a_registration_names_every_bad_field(auth: WorkerAuth) -> None:
    bad = RegisterWorker(
        region="",
        worker_id="-starts-badly",
        time_zone="Europe",
        skills=("en", "Has Spaces"),
        availability=("08:00-12:00", "25:00-26:00"),
    )

    with pytest.raises(InvalidInputError) as caught:
        await auth.register(bad)

    fields = [v.field for v in caught.value.violations]
    assert fields == ["worker_id", "region", "time_zone", "skills[1]", "availability[1]"]


async def test_a_token_expires(auth: WorkerAuth, clock: FakeClock) -> None:
    issued = await auth.register(REGISTRATION)
    clock.advance(TTL_S - 1)
    await auth.authenticate(issued.token)

    clock.advance(1)

    with pytest.raises(UnauthenticatedError, match="expired"):
        await auth.authenticate(issued.token)


async def test_a_revoked_token_is_refused_and_revoking_again_is_harmless(
    auth: WorkerAuth,
) -> None:
    issued = await auth.register(REGISTRATION)
    other = await auth.register(replace(REGISTRATION, worker_id="jose"))

    await auth.revoke(issued.token)
    await auth.revoke(issued.token)

    with pytest.raises(UnauthenticatedError, match="revoked"):
        await auth.authenticate(issued.token)
    assert (await auth.authenticate(other.token)).worker_id == "jose"


async def test_refreshing_issues_a_new_token_and_revokes_the_old(
    auth: WorkerAuth, clock: FakeClock
) -> None:
    old = await auth.register(REGISTRATION)
    clock.advance(600)

    new = await auth.refresh(old.token)

    assert new.claims.expires_at == START + timedelta(seconds=600 + TTL_S)
    assert replace(new.claims, token_id="", issued_at=START, expires_at=START) == replace(
        old.claims, token_id="", issued_at=START, expires_at=START
    )
    with pytest.raises(UnauthenticatedError, match="revoked"):
        await auth.authenticate(old.token)
    await auth.authenticate(new.token)


def _forge(token: str, **changes: object) -> str:
    """The token with its payload changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims |= changes
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_forged_tampered_or_foreign_tokens_are_refused(auth: WorkerAuth) -> None:
    issued = await auth.register(REGISTRATION)
    claims = jwt.decode(
        issued.token,
        SECRET,
        algorithms=["HS256"],
        audience="fairtask-worker",
        options={"verify_exp": False},  # issued on the fake clock's day
    )
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    foreign = jwt.encode(claims, "another-secret-that-is-long-enough-000000", algorithm="HS256")
    wrong_audience = jwt.encode(claims | {"aud": "someone-else"}, SECRET, algorithm="HS256")
    wrong_shape = jwt.encode(claims | {"skills": "en"}, SECRET, algorithm="HS256")
    cases = {
        "": "required",
        "garbage": "not a fairtask worker token",
        "a.b.c": "not a fairtask worker token",
        unsigned: "not a fairtask worker token",
        foreign: "signature",
        _forge(issued.token, sub="someone-else"): "signature",
        _forge(issued.token, exp=2_000_000_000): "signature",
        wrong_audience: "not a fairtask worker token",
        wrong_shape: "not a fairtask worker token",
        "x" * (MAX_TOKEN_CHARS + 1): "not a fairtask worker token",
    }
    for token, reason in cases.items():
        with pytest.raises(UnauthenticatedError, match=reason):
            await auth.authenticate(token)


async def test_a_forged_token_cannot_be_used_to_sign_anyone_out(auth: WorkerAuth) -> None:
    issued = await auth.register(REGISTRATION)

    with pytest.raises(UnauthenticatedError):
        await auth.revoke(_forge(issued.token, jti="someone-elses-token"))


def test_the_secret_must_be_long_and_a_missing_one_is_made_up() -> None:
    with pytest.raises(ValueError, match="32"):
        JwtTokenCodec("short")
    made_up = token_secret(None)
    assert len(made_up) >= 32
    assert made_up != token_secret(None)
    assert token_secret(SECRET) == SECRET


async def test_a_hello_takes_the_tokens_identity_and_its_own_preferences(
    auth: WorkerAuth,
) -> None:
    claims = (await auth.register(REGISTRATION)).claims

    registered = hello_for(claims, HelloOverrides())
    changed = hello_for(
        claims,
        HelloOverrides(time_zone="UTC", availability=("00:00-24:00",), sensitive_opt_in=False),
        worker_id="maria",
        region="ph",
    )

    assert (registered.worker_id, registered.region, registered.time_zone) == (
        "maria",
        "ph",
        "Asia/Manila",
    )
    assert registered.skills == frozenset({"en", "tl"})
    assert registered.sensitive_opt_in
    assert (changed.time_zone, changed.availability) == ("UTC", ("00:00-24:00",))
    assert not changed.sensitive_opt_in
    with pytest.raises(InvalidInputError) as caught:
        hello_for(claims, HelloOverrides(skills=("??",)), worker_id="jose", region="us")
    assert [v.field for v in caught.value.violations] == [
        "hello.skills[0]",
        "hello.worker_id",
        "hello.region",
    ]
