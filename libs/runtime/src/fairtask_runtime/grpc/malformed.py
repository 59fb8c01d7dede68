"""Requests that are not valid protobuf get INVALID_ARGUMENT, on every service.

Left to itself grpc.aio answers an undecodable request with UNKNOWN and the parser's exception
text. This interceptor decodes requests itself and turns a bad one into INVALID_ARGUMENT naming
the expected type, before any handler runs; on a stream, a bad message ends that stream only
(`MalformedRequestError`).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import grpc
from google.protobuf.message import DecodeError

Deserializer = Callable[[bytes], Any]
Request = TypeVar("Request")
Response = TypeVar("Response")


class _Malformed:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _tolerant(deserialize: Deserializer) -> Deserializer:
    def parse(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except (DecodeError, ValueError, UnicodeDecodeError) as exc:
            return _Malformed(str(exc) or type(exc).__name__)

    return parse


class MalformedRequestError(Exception):
    """A message on a request stream was not valid protobuf; the call's status is already set
    to INVALID_ARGUMENT with this text. Raised, not aborted, where it is read: a handler that
    reads its requests in another task than the one writing its answers must abort from the
    writing task, because an abort racing a write can leave the call without any status (the
    client then waits for its deadline). Left uncaught, it ends the call with that status."""


def _details(method: str, bad: _Malformed) -> str:
    return f"{method}: the request is not a valid message: {bad.reason}"


async def _refuse(
    context: grpc.aio.ServicerContext[Any, Any], method: str, bad: _Malformed
) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _details(method, bad))


async def _checked(
    requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any], method: str
) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, _Malformed):
            details = _details(method, request)
            context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
            context.set_details(details)
            raise MalformedRequestError(details)
        yield request


class MalformedRequests(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Request, Response] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Request, Response] | None:
        handler = await continuation(handler_call_details)
        return cast(
            "grpc.RpcMethodHandler[Request, Response] | None",
            _tolerant_handler(handler, handler_call_details.method),
        )


def _tolerant_handler(handler: Any, method: str) -> Any:
    if handler is None or handler.request_deserializer is None:
        return handler
    parse = _tolerant(handler.request_deserializer)
    serialize = handler.response_serializer
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            _unary_unary(handler.unary_unary, method), parse, serialize
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            _unary_stream(handler.unary_stream, method), parse, serialize
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            _stream_in(handler.stream_unary, method), parse, serialize
        )
    return grpc.stream_stream_rpc_method_handler(
        _stream_in(handler.stream_stream, method), parse, serialize
    )


def _unary_unary(behavior: Any, method: str) -> Any:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, _Malformed):
            await _refuse(context, method, request)
        return await behavior(request, context)

    return call


def _unary_stream(behavior: Any, method: str) -> Any:
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if isinstance(request, _Malformed):
                await _refuse(context, method, request)
            async for response in behavior(request, context):
                yield response

        return stream

    async def written(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, _Malformed):
            await _refuse(context, method, request)
        return await behavior(request, context)

    return written


def _stream_in(behavior: Any, method: str) -> Any:
    if inspect.isasyncgenfunction(behavior):

        async def stream(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async for response in behavior(_checked(requests, context, method), context):
                yield response

        return stream

    async def single(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return await behavior(_checked(requests, context, method), context)

    return single
