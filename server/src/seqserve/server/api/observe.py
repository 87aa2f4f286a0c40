"""The observing server interceptor: a request id, metrics and an access-log line per call.

- **Request id.** Taken from the call's `x-request-id` metadata (printable ASCII, at most
  128 characters), or generated (16 hex digits). It is echoed back in the trailing
  metadata of every call (so also on errors), and for streaming responses in the initial
  metadata too, sent with the first message. Unary answers do not send initial metadata
  early: that would commit the call before its answer exists, and the client's retry
  policy could no longer replay it on another replica when this one dies.
- **Metrics.** `seqserve_requests_total` and `seqserve_request_duration_seconds` by
  model, method and status code (`seqserve.server.metrics`). The model is read from the
  request (`model`, `model_name` or `name`; a session's `open`); names the server does
  not serve count (and are logged) as `_unknown`.
- **Access log.** Logger `seqserve.server.access`: one line per call with method, model,
  code, duration and peer, at DEBUG by default (`--log-access` raises it to INFO).
  Failed calls are logged once: caller errors at INFO, overload and unavailability at
  WARNING, and an unexpected exception at ERROR with its traceback. INTERNAL errors are
  logged with their traceback by `api.status` under the same request id (and the caller
  sees that id), so their access line stays at the access level. Failed calls' lines are
  rate-limited (`FAILED_LINES_PER_10S`, then one line with the count left out); the
  metrics count every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from seqserve.server import ids
from seqserve.server.api.plumbing import Behavior, HandlerCache, behavior_of, rewrapped
from seqserve.server.calls import ActiveCalls, CallState, active_calls, current_call
from seqserve.server.errors import ShuttingDown
from seqserve.server.logs import RateLimitedLog
from seqserve.server.metrics import RequestMetrics, known_model

_peer: contextvars.ContextVar[str] = contextvars.ContextVar("seqserve_peer", default="-")

HEADER = "x-request-id"
MAX_ID_LENGTH = ids.MAX_REQUEST_ID
FAILED_LINES_PER_10S = 100
NOT_AWAITED = ("/grpc.health.v1.Health/", "/grpc.reflection.")
access_log = logging.getLogger("seqserve.server.access")
log = logging.getLogger(__name__)

_CALLER_ERRORS = frozenset(
    {
        "CANCELLED",
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "FAILED_PRECONDITION",
        "OUT_OF_RANGE",
        "DEADLINE_EXCEEDED",
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
    }
)


def current_request_id() -> str | None:
    """The request id of the call being served in this task, if any."""
    call = current_call.get()
    return call.request_id if call is not None else None


def request_id(metadata: Any) -> str:
    """The caller's `x-request-id` when it is a sane one, else a new id."""
    for key, value in metadata or ():
        if key == HEADER:
            if (
                isinstance(value, str)
                and 0 < len(value) <= MAX_ID_LENGTH
                and value.isascii()
                and value.isprintable()
            ):
                return value
            break
    return os.urandom(8).hex()


def model_of(message: Any) -> str:
    """The model a request names: `model`, `model_name` or `name`; a session's `open.model`."""
    for field in ("model", "model_name", "name"):
        value = getattr(message, field, None)
        if isinstance(value, str):
            return value
    opened = getattr(message, "open", None)
    value = getattr(opened, "model", None)
    return value if isinstance(value, str) else ""


class ObserveInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Request id, metrics and access log for every call; install it first (outermost)."""

    def __init__(self, access_level: int = logging.DEBUG) -> None:
        self.access_level = access_level
        self._handlers = HandlerCache(self._wrap)
        self._requests = RequestMetrics()
        self._failures = RateLimitedLog(access_log, FAILED_LINES_PER_10S, 10.0)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        return self._handlers.get(handler, details.method)

    # ------------------------------------------------------------ wrapping

    def _wrap(self, handler: grpc.RpcMethodHandler, full_method: str) -> grpc.RpcMethodHandler:
        method = full_method.rpartition("/")[2]
        inner = behavior_of(handler)
        streamed = bool(handler.request_streaming)
        # health and reflection streams last as long as their caller likes: a stopping
        # server does not wait for them
        active = None if full_method.startswith(NOT_AWAITED) else active_calls
        if handler.response_streaming:
            return rewrapped(handler, self._streaming(inner, method, streamed, active))
        return rewrapped(handler, self._unary(inner, method, streamed, active))

    def _begin(
        self,
        request: Any,
        context: grpc.aio.ServicerContext,
        method: str,
        streamed: bool,
    ) -> tuple[CallState, Any]:
        rid = request_id(context.invocation_metadata())
        context.set_trailing_metadata(((HEADER, rid),))
        call = CallState(rid, method)
        current_call.set(call)  # each call runs in its own task: no reset needed
        _peer.set(context.peer())  # read now: peer() on a finished call can crash grpc.aio
        if streamed:
            request = _observed(request, call)
        else:
            call.model = model_of(request)
        return call, request

    def _unary(
        self, inner: Behavior, method: str, streamed_requests: bool, active: ActiveCalls | None
    ) -> Behavior:
        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            call, request = self._begin(request, context, method, streamed_requests)
            error: BaseException | None = None
            try:
                async with _admitted(active, context):
                    result = inner(request, context)
                    if inspect.isawaitable(result):
                        result = await result
                    return result
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._finish(call, context, started, error)

        return behavior

    def _streaming(
        self, inner: Behavior, method: str, streamed_requests: bool, active: ActiveCalls | None
    ) -> Behavior:
        if not inspect.isasyncgenfunction(inner):  # writes with context.write()
            return self._unary(inner, method, streamed_requests, active)

        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            call, request = self._begin(request, context, method, streamed_requests)
            error: BaseException | None = None
            first = True
            try:
                async with _admitted(active, context):
                    async for response in inner(request, context):
                        if first:
                            first = False
                            await context.send_initial_metadata(((HEADER, call.request_id),))
                        yield response
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._finish(call, context, started, error)

        return behavior

    # ------------------------------------------------------------ the end of a call

    def _finish(
        self,
        call: CallState,
        context: grpc.aio.ServicerContext,
        started: float,
        error: BaseException | None,
    ) -> None:
        seconds = time.perf_counter() - started
        status = context.code()
        if status is not None:
            code = str(status.name)
        elif error is None:
            code = "OK"
        elif isinstance(error, asyncio.CancelledError | GeneratorExit):
            code = "CANCELLED"
        else:
            code = "UNKNOWN"
        self._requests.observe(call.model, call.method, code, seconds)
        level = self._level(code)
        if access_log.isEnabledFor(level):
            self._log(level, call, context, code, seconds, error if code == "UNKNOWN" else None)

    def _level(self, code: str) -> int:
        if code == "OK" or code == "INTERNAL":
            return self.access_level
        if code in _CALLER_ERRORS:
            return max(self.access_level, logging.INFO)
        if code == "UNKNOWN":
            return logging.ERROR
        return max(self.access_level, logging.WARNING)

    def _log(
        self,
        level: int,
        call: CallState,
        context: grpc.aio.ServicerContext,
        code: str,
        seconds: float,
        error: BaseException | None,
    ) -> None:
        ms = round(seconds * 1e3, 3)
        model = known_model(call.model)  # a caller's unknown name could carry newlines
        details = context.details() if code != "OK" else None
        peer = _peer.get()
        # failed calls a caller can repeat at will are logged at a bounded rate (all counted)
        line = self._failures if code != "OK" and code != "INTERNAL" else access_log
        line.log(
            level,
            "%s model=%s code=%s %.2f ms peer=%s%s",
            call.method,
            model or "-",
            code,
            ms,
            peer,
            f": {details}" if details else "",
            exc_info=error,
            extra={
                "request_id": call.request_id,
                "method": call.method,
                "model": model,
                "code": code,
                "duration_ms": ms,
                "peer": peer,
                "details": details,
            },
        )


@contextlib.asynccontextmanager
async def _admitted(
    active: ActiveCalls | None, context: grpc.aio.ServicerContext
) -> AsyncIterator[None]:
    """A call counted in `active` while it runs; one arriving while the server stops is
    refused with UNAVAILABLE before any work, so the caller retries it on another replica."""
    if active is None:
        yield
        return
    if not active.begin():
        await context.abort(grpc.StatusCode.UNAVAILABLE, ShuttingDown().message)
    try:
        yield
    finally:
        active.end()


async def _observed(messages: AsyncIterator[Any], call: CallState) -> AsyncIterator[Any]:
    """The request stream, unchanged; the first message that names a model labels the call."""
    async for message in messages:
        if not call.model:
            call.model = model_of(message)
        yield message
