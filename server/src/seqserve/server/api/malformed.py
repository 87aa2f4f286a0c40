"""Requests whose bytes are not the method's message: `INTERNAL`, one log line, no traceback.

Left alone, grpc.aio answers an unparseable request with `UNKNOWN` and the parser's
exception text, and logs a full traceback per call (a cheap way to flood the log). This
interceptor gives every method a deserializer that cannot raise: bytes that do not parse
become a marker, and the method ends with `INTERNAL` ("request is not a valid ... message",
the status gRPC specifies for unparseable messages) before any servicer code sees it.
Client-streaming methods check each message as the servicer reads it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

log = logging.getLogger(__name__)

_CACHE_LIMIT = 256

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


class Malformed:
    """What a request that did not parse becomes."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


class MalformedRequestInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """The guard as its own interceptor (used behind the auth interceptor).

    Without auth, `ObserveInterceptor(guard_malformed=True)` does the same in its own layer.
    """

    def __init__(self) -> None:
        self._guarded: dict[int, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        cached = self._guarded.get(id(handler))  # wrap each registered handler once
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = guarded_handler(handler, details.method)
        if len(self._guarded) >= _CACHE_LIMIT:  # handlers made per call (e.g. rejections)
            self._guarded.clear()
        self._guarded[id(handler)] = (handler, wrapped)
        return wrapped


def safe(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception:
            return Malformed(len(data))

    return deserialize


async def refuse(context: grpc.aio.ServicerContext, method: str, request: Malformed) -> None:
    log.info("refused %s: %d bytes that are not its request message", method, request.size)
    name = method.rsplit("/", 1)[-1]
    await context.abort(grpc.StatusCode.INTERNAL, f"request is not a valid {name} request message")


def guarded_handler(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    parse = safe(handler.request_deserializer)
    serialize = handler.response_serializer
    if handler.request_streaming:
        behavior = handler.stream_stream or handler.stream_unary

        async def checked(requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
            async for request in requests:
                if isinstance(request, Malformed):
                    await refuse(context, method, request)
                yield request

        if inspect.isasyncgenfunction(behavior):

            async def stream_generator(requests: Any, context: Any) -> AsyncIterator[Any]:
                async for response in behavior(checked(requests, context), context):
                    yield response

            streaming: Callable[..., Any] = stream_generator
        else:

            async def stream_coroutine(requests: Any, context: Any) -> Any:
                return await behavior(checked(requests, context), context)

            streaming = stream_coroutine
        if handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(streaming, parse, serialize)
        return grpc.stream_unary_rpc_method_handler(streaming, parse, serialize)

    behavior = handler.unary_stream or handler.unary_unary
    if inspect.isasyncgenfunction(behavior):

        async def generator(request: Any, context: Any) -> AsyncIterator[Any]:
            if isinstance(request, Malformed):
                await refuse(context, method, request)
            async for response in behavior(request, context):
                yield response

        wrapped: Callable[..., Any] = generator
    else:

        async def coroutine(request: Any, context: Any) -> Any:
            if isinstance(request, Malformed):
                await refuse(context, method, request)
            return await behavior(request, context)

        wrapped = coroutine
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(wrapped, parse, serialize)
    return grpc.unary_unary_rpc_method_handler(wrapped, parse, serialize)
