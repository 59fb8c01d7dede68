"""Worker identity: registration, signed expiring tokens, and their revocation.

A connection acts as the worker its token names, never as whoever the client says it is. The
token also carries what the worker registered (region, time zone, skills, availability and the
sensitive-content opt-in), so a hello may leave those out. The region is fixed at registration:
fair shares are counted per region, so a worker cannot move between them from one hello to the
next.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from dispatcher.domain.errors import ConflictError, InvalidInputError, Violation
from dispatcher.service_layer.sessions import Hello
from dispatcher.service_layer.worker_input import identity_violations, profile_violations
from fairtask_runtime.clock import Clock
from fairtask_runtime.worker_tokens import UnauthenticatedError as UnauthenticatedError
from fairtask_runtime.worker_tokens import WorkerClaims as WorkerClaims

_T = TypeVar("_T")


@dataclass(frozen=True)
class RegisterWorker:
    region: str
    # Empty: the server mints an id. A given id is refused if anyone registered it before.
    worker_id: str = ""
    time_zone: str = "UTC"
    skills: tuple[str, ...] = ()
    availability: tuple[str, ...] = ()
    sensitive_opt_in: bool = False


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: WorkerClaims


@dataclass(frozen=True)
class HelloOverrides:
    """What one connection changes for itself; None keeps the value registered in the token."""

    time_zone: str | None = None
    skills: tuple[str, ...] | None = None
    availability: tuple[str, ...] | None = None
    sensitive_opt_in: bool | None = None


class TokenCodec(Protocol):
    def encode(self, claims: WorkerClaims) -> str:
        """Signs the claims into a token. Pure and non-blocking."""
        ...

    def decode(self, token: str) -> WorkerClaims:
        """The claims of a token this codec signed. Raises UnauthenticatedError for a token that
        is malformed or not signed with our secret. Expiry is not checked here: the caller does,
        with its own clock."""
        ...


class WorkerRegistry(Protocol):
    async def claim(self, worker_id: str, at: datetime) -> bool:
        """Records `worker_id` as registered; False if it already was. Atomic: of two
        concurrent claims of one id, exactly one wins."""
        ...

    async def revoke(self, token_id: str, until: datetime) -> None:
        """Makes `is_revoked(token_id)` true at least until `until` (the token's expiry, after
        which the token is refused anyway). Idempotent."""
        ...

    async def is_revoked(self, token_id: str) -> bool: ...


class WorkerAuth:
    def __init__(
        self,
        codec: TokenCodec,
        registry: WorkerRegistry,
        clock: Clock,
        token_ttl_s: float,
        new_id: Callable[[], str],
    ) -> None:
        self._codec = codec
        self._registry = registry
        self._clock = clock
        self._ttl = timedelta(seconds=token_ttl_s)
        self._new_id = new_id

    async def register(self, command: RegisterWorker) -> IssuedToken:
        """Raises InvalidInputError naming each bad field, ConflictError for a taken id."""
        violations = identity_violations(command.worker_id, command.region)
        violations += profile_violations(
            "", command.time_zone, command.skills, command.availability
        )
        if violations:
            raise InvalidInputError(violations)
        now = self._clock.now()
        worker_id = command.worker_id or f"w-{self._new_id()}"
        if not await self._registry.claim(worker_id, now):
            raise ConflictError(f"worker_id {worker_id!r} is already registered")
        return self._issue(
            WorkerClaims(
                worker_id=worker_id,
                region=command.region,
                time_zone=command.time_zone,
                skills=command.skills,
                availability=command.availability,
                sensitive_opt_in=command.sensitive_opt_in,
                token_id="",
                issued_at=now,
                expires_at=now,
            )
        )

    async def authenticate(self, token: str) -> WorkerClaims:
        """The claims of a valid token; raises UnauthenticatedError saying what is wrong."""
        if not token:
            raise UnauthenticatedError("a worker token is required")
        claims = self._codec.decode(token)
        if claims.expires_at <= self._clock.now():
            raise UnauthenticatedError("the token has expired; sign in again")
        if await self._registry.is_revoked(claims.token_id):
            raise UnauthenticatedError("the token has been revoked")
        return claims

    async def refresh(self, token: str) -> IssuedToken:
        """A fresh token with the same claims; the old one is revoked (rotation, so a leaked
        token does not live on beside its replacement)."""
        claims = await self.authenticate(token)
        issued = self._issue(claims)
        await self._registry.revoke(claims.token_id, claims.expires_at)
        return issued

    async def revoke(self, token: str) -> None:
        """Signs a token out. Idempotent: an expired or already revoked token is fine, but a
        forged one raises UnauthenticatedError (it names nothing we could revoke)."""
        claims = self._codec.decode(token)
        if claims.expires_at > self._clock.now():
            await self._registry.revoke(claims.token_id, claims.expires_at)

    def _issue(self, claims: WorkerClaims) -> IssuedToken:
        # Whole seconds, as a token carries them: the claims returned equal the ones decoded.
        now = self._clock.now().replace(microsecond=0)
        fresh = replace(claims, token_id=self._new_id(), issued_at=now, expires_at=now + self._ttl)
        return IssuedToken(self._codec.encode(fresh), fresh)


def hello_for(
    claims: WorkerClaims, overrides: HelloOverrides, worker_id: str = "", region: str = ""
) -> Hello:
    """The hello a connection stands for: the token's identity, the connection's preferences.

    `worker_id` and `region` are what the client said, if anything; they must agree with the
    token. Raises InvalidInputError naming each `hello.` field that is wrong.
    """
    found = profile_violations(
        "hello.", overrides.time_zone, overrides.skills, overrides.availability
    )
    if worker_id and worker_id != claims.worker_id:
        found.append(Violation("hello.worker_id", "is not the worker your token names"))
    if region and region != claims.region:
        found.append(Violation("hello.region", f"you registered in region {claims.region!r}"))
    if found:
        raise InvalidInputError(found)
    return Hello(
        worker_id=claims.worker_id,
        region=claims.region,
        skills=frozenset(_pick(overrides.skills, claims.skills)),
        time_zone=_pick(overrides.time_zone, claims.time_zone),
        availability=_pick(overrides.availability, claims.availability),
        sensitive_opt_in=_pick(overrides.sensitive_opt_in, claims.sensitive_opt_in),
    )


def _pick(given: _T | None, registered: _T) -> _T:
    return registered if given is None else given
