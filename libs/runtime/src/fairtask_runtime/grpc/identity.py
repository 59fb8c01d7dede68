"""Who is calling: the platform named by the call's metadata.

The walking skeleton trusts the `x-platform-id` header; tenant API keys replace it later
without changing any servicer, because every servicer asks this module.
"""

import grpc

PLATFORM_HEADER = "x-platform-id"


async def platform_id(context: grpc.aio.ServicerContext[object, object]) -> str:
    """The calling platform; aborts the call with UNAUTHENTICATED when there is none."""
    for key, value in context.invocation_metadata() or ():
        if key == PLATFORM_HEADER and isinstance(value, str) and value.strip():
            return value.strip()
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"missing {PLATFORM_HEADER} metadata")
    raise AssertionError("abort returns only by raising")
