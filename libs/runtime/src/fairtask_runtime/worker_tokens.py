"""Worker tokens as JWTs signed with HMAC-SHA256 (RFC 7519), and the secret they are signed with.

The dispatcher issues them; every service a worker calls (the dispatcher, payroll for the
worker's statement) verifies them with the same shared secret.

Only HS256 is accepted on the way in, so a token cannot pick its own algorithm ("none", or an
asymmetric one keyed with our secret). Expiry is checked by the caller with the service's clock,
not by PyJWT with the machine's, so tests can move time.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
import structlog
from pydantic import SecretStr

log = structlog.get_logger(__name__)


class UnauthenticatedError(Exception):
    """The token is missing, malformed, forged, expired or revoked; the message says which."""


@dataclass(frozen=True)
class WorkerClaims:
    """What a valid token says about its holder."""

    worker_id: str
    region: str
    time_zone: str
    skills: tuple[str, ...]
    availability: tuple[str, ...]
    sensitive_opt_in: bool
    token_id: str
    issued_at: datetime
    expires_at: datetime


_ALGORITHM = "HS256"
_ISSUER = "fairtask-dispatcher"
_AUDIENCE = "fairtask-worker"
# Far above a real token (~600 bytes): whatever is longer is not ours, and is not parsed.
MAX_TOKEN_CHARS = 4096
MIN_SECRET_CHARS = 32
_REQUIRED = ["sub", "jti", "iat", "exp", "iss", "aud", "region"]


class JwtTokenCodec:
    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"the worker token secret needs at least {MIN_SECRET_CHARS} chars")
        self._secret = secret

    def encode(self, claims: WorkerClaims) -> str:
        payload: dict[str, Any] = {
            "iss": _ISSUER,
            "aud": _AUDIENCE,
            "sub": claims.worker_id,
            "jti": claims.token_id,
            "iat": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "region": claims.region,
            "tz": claims.time_zone,
            "skills": list(claims.skills),
            "availability": list(claims.availability),
            "sensitive_opt_in": claims.sensitive_opt_in,
        }
        return jwt.encode(payload, self._secret, algorithm=_ALGORITHM)

    def decode(self, token: str) -> WorkerClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise UnauthenticatedError("the token is not a fairtask worker token")
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                issuer=_ISSUER,
                options={"verify_exp": False, "verify_iat": False, "require": _REQUIRED},
            )
            return _claims_of(payload)
        except jwt.InvalidSignatureError as error:
            raise UnauthenticatedError("the token's signature is not valid") from error
        except (jwt.InvalidTokenError, KeyError, TypeError, ValueError) as error:
            raise UnauthenticatedError("the token is not a fairtask worker token") from error


def _claims_of(payload: dict[str, Any]) -> WorkerClaims:
    """Raises TypeError or ValueError for a signed payload of the wrong shape (a token from an
    older or newer version of this code, say)."""
    strings = ("sub", "jti", "region", "tz")
    if not all(isinstance(payload.get(k), str) for k in strings):
        raise TypeError("string claims")
    lists = (payload.get("skills"), payload.get("availability"))
    if not all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in lists):
        raise TypeError("list claims")
    if not isinstance(payload.get("sensitive_opt_in"), bool):
        raise TypeError("sensitive_opt_in")
    return WorkerClaims(
        worker_id=payload["sub"],
        region=payload["region"],
        time_zone=payload["tz"],
        skills=tuple(payload["skills"]),
        availability=tuple(payload["availability"]),
        sensitive_opt_in=payload["sensitive_opt_in"],
        token_id=payload["jti"],
        issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
    )


def codec_for(secret: SecretStr | None) -> JwtTokenCodec:
    """The codec of a service's FAIRTASK_WORKER_TOKEN_SECRET (see `token_secret` when unset)."""
    return JwtTokenCodec(token_secret(secret.get_secret_value() if secret else None))


def token_secret(configured: str | None) -> str:
    """The configured secret, or a random one for this process only (development)."""
    if configured:
        return configured
    log.warning(
        "FAIRTASK_WORKER_TOKEN_SECRET is not set: worker tokens are signed with a random secret "
        "for this process only; they stop working when it restarts and other replicas refuse "
        "them. Set the secret in any shared or production deployment."
    )
    return secrets.token_urlsafe(48)
