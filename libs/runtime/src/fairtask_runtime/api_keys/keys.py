"""Platform API keys: what a key looks like, and how it is kept without keeping the secret.

A key reads `ftk_<key id>_<secret>`. The key id is public (listed, named when revoking); the
secret is 256 random bits, shown once when issued and stored only as its SHA-256. A plain hash is
enough for a secret of that entropy (nothing to brute-force, unlike a password), and lets a
verification cost one lookup by key id and one constant-time comparison.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

KEY_PREFIX = "ftk"
# Platform ids name pools ("<platform>/<task type>") and Redis keys: no '/', no spaces.
_PLATFORM_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


class KeyStoreUnavailableError(Exception):
    """The key store could not be asked; the caller should answer UNAVAILABLE, not refuse."""


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    platform_id: str
    # The only time the whole key exists outside the platform's hands.
    key: str
    created_at: datetime


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    platform_id: str
    created_at: datetime
    revoked_at: datetime | None
    label: str = ""

    @property
    def live(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewSecret:
    key_id: str
    key: str
    digest: str


def platform_id_problem(platform_id: str) -> str | None:
    """Why `platform_id` cannot own keys, or None when it can."""
    if _PLATFORM_ID.fullmatch(platform_id):
        return None
    return (
        "a platform id is 1-63 characters of a-z, 0-9, '.', '_' and '-', "
        f"starting with a letter or digit; got {platform_id!r}"
    )


def new_secret() -> NewSecret:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewSecret(key_id, f"{KEY_PREFIX}_{key_id}_{secret}", digest_of(secret))


def split_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not _KEY_ID.fullmatch(key_id) or len(secret) < 32:
        return None
    return key_id, secret


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, digest: str) -> bool:
    # Constant time, so response timing does not reveal how much of a guess was right.
    return hmac.compare_digest(digest_of(secret).encode(), digest.encode())
