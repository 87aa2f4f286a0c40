"""The gRPC plumbing every front-end shares: handler re-wrapping, one handler cache, and the
malformed-request guard every registered method gets.

- `rewrapped(handler, behavior)` is the one place that knows gRPC's four call shapes
  (unary or streamed requests, unary or streamed responses): the observing interceptor,
  the auth refusal and the guard below all build their handlers with it.
- `HandlerCache` keeps what an interceptor made from each registered handler, so a method
  is wrapped once, not per call.
- **Malformed requests.** Left alone, grpc.aio answers bytes that are not the method's
  message with `UNKNOWN` and the parser's exception text, and logs a full traceback per call
  (a cheap way to flood the log). `Registration` wraps every handler as it is registered
  (seqserve.v1, KServe, health, reflection), whatever the interceptors: its deserializer
  cannot raise, bytes that do not parse become a `Malformed` marker, and the method ends with
  `INTERNAL` ("request is not a valid ... message", the status gRPC specifies for
  unparseable messages) before any servicer code sees it, with one log line. Streamed
  requests are checked as the servicer reads each one.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import grpc

from seqserve.server.logs import RateLimitedLog

log = logging.getLogger(__name__)

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]
Wrap = Callable[[grpc.RpcMethodHandler, str], grpc.RpcMethodHandler]

_MAKERS: dict[tuple[bool, bool], Callable[..., grpc.RpcMethodHandler]] = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}
_KEEP: Any = object()


def behavior_of(handler: grpc.RpcMethodHandler) -> Behavior:
    """The servicer function a handler calls, whatever its call shape."""
    behavior: Behavior = (
        handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    )
    return behavior


def rewrapped(
    handler: grpc.RpcMethodHandler,
    behavior: Behavior,
    request_deserializer: Callable[[bytes], Any] | None = _KEEP,
) -> grpc.RpcMethodHandler:
    """A handler of `handler`'s call shape that calls `behavior`, with the same response
    serializer and, unless given, the same request deserializer."""
    parse = handler.request_deserializer if request_deserializer is _KEEP else request_deserializer
    make = _MAKERS[(bool(handler.request_streaming), bool(handler.response_streaming))]
    return make(
        behavior,
        request_deserializer=parse,
        response_serializer=handler.response_serializer,
    )


class HandlerCache:
    """What `wrap` made of each handler, so each registered method is wrapped once.

    Keyed by the handler's identity (and checked against it, as an id can be reused).
    Handlers made per call (an auth refusal) would grow it without end, so past
    `limit` entries it starts again.
    """

    def __init__(self, wrap: Wrap, limit: int = 256) -> None:
        self._wrap = wrap
        self._limit = limit
        self._wrapped: dict[int, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def get(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        cached = self._wrapped.get(id(handler))
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, method)
        if len(self._wrapped) >= self._limit:
            self._wrapped.clear()
        self._wrapped[id(handler)] = (handler, wrapped)
        return wrapped


# ------------------------------------------------------------ the malformed-request guard


class Malformed:
    """What a request that did not parse becomes."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


def _safe(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception:
            return Malformed(len(data))

    return deserialize


_refusals = RateLimitedLog(log, 10, 60.0)  # a caller can send garbage at will


async def _refuse(context: grpc.aio.ServicerContext, method: str, request: Malformed) -> None:
    _refusals.log(
        logging.INFO, "refused %s: %d bytes that are not its request message", method, request.size
    )
    name = method.rsplit("/", 1)[-1]
    await context.abort(grpc.StatusCode.INTERNAL, f"request is not a valid {name} request message")


def guarded(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """`handler` with a deserializer that cannot raise, refusing requests that did not parse."""
    if handler.request_deserializer is None:
        return handler
    behavior = behavior_of(handler)
    streams = inspect.isasyncgenfunction(behavior)
    if handler.request_streaming:

        async def checked(requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
            async for request in requests:
                if type(request) is Malformed:
                    await _refuse(context, method, request)
                yield request

        async def stream_generator(requests: Any, context: Any) -> AsyncIterator[Any]:
            async for response in behavior(checked(requests, context), context):
                yield response

        async def stream_coroutine(requests: Any, context: Any) -> Any:
            return await behavior(checked(requests, context), context)

        wrapped: Behavior = stream_generator if streams else stream_coroutine
    else:

        async def generator(request: Any, context: Any) -> AsyncIterator[Any]:
            if type(request) is Malformed:
                await _refuse(context, method, request)
            async for response in behavior(request, context):
                yield response

        async def coroutine(request: Any, context: Any) -> Any:
            if type(request) is Malformed:
                await _refuse(context, method, request)
            return await behavior(request, context)

        wrapped = generator if streams else coroutine
    return rewrapped(handler, wrapped, _safe(handler.request_deserializer))


class _GuardedLookup(grpc.GenericRpcHandler):  # type: ignore[misc]
    """A generic handler whose handlers come out guarded (each wrapped once)."""

    def __init__(self, inner: grpc.GenericRpcHandler, cache: HandlerCache) -> None:
        self._inner = inner
        self._cache = cache

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._inner.service(details)
        return None if handler is None else self._cache.get(handler, details.method)


class Registration:
    """Where the front-ends, health and reflection register their services on a server:
    every handler gets the malformed-request guard here, once, whatever the interceptors.

    It offers the two calls the generated `add_*_to_server` functions make.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server
        self._cache = HandlerCache(guarded)

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler]
    ) -> None:
        self._server.add_registered_method_handlers(
            service, {name: guarded(h, f"/{service}/{name}") for name, h in handlers.items()}
        )

    def add_generic_rpc_handlers(self, generic: Iterable[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_GuardedLookup(inner, self._cache) for inner in generic)
        )
