"""Platform API keys: issued to a platform, stored hashed, verified by every service."""

from fairtask_runtime.api_keys.keys import (
    IssuedKey,
    KeyInfo,
    KeyStoreUnavailableError,
    platform_id_problem,
)
from fairtask_runtime.api_keys.store import (
    DEFAULT_PREFIX,
    MemoryPlatformKeys,
    PlatformKeys,
    RedisPlatformKeys,
)

__all__ = [
    "DEFAULT_PREFIX",
    "IssuedKey",
    "KeyInfo",
    "KeyStoreUnavailableError",
    "MemoryPlatformKeys",
    "PlatformKeys",
    "RedisPlatformKeys",
    "platform_id_problem",
]
