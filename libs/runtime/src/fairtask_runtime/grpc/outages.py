"""A request that fails because a server behind the service is unreachable (Redis, Kafka,
PostgreSQL restarting) is answered UNAVAILABLE, which clients retry, instead of UNKNOWN.

Only request-response methods: a stream decides for itself how to end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import grpc
import redis.exceptions
import structlog
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

Request = TypeVar("Request")
Response = TypeVar("Response")

OUTAGES: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    ConnectionError,
    TimeoutError,
)

log = structlog.get_logger(__name__)


class Outages(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Request, Response] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Request, Response] | None:
        handler: Any = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return cast("grpc.RpcMethodHandler[Request, Response] | None", handler)
        behavior = handler.unary_unary
        method = handler_call_details.method

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                return await behavior(request, context)
            except OUTAGES as error:
                log.warning("a backing server is unreachable", method=method, error=repr(error))
                await context.abort(
                    grpc.StatusCode.UNAVAILABLE,
                    "a server behind this service is unreachable for now; retry (the API is "
                    "idempotent)",
                )

        return cast(
            "grpc.RpcMethodHandler[Request, Response]",
            grpc.unary_unary_rpc_method_handler(
                call, handler.request_deserializer, handler.response_serializer
            ),
        )
