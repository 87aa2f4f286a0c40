"""Errors -> gRPC status, in one table, applied by one pair of decorators.

Domain errors carry their own caller-facing message. Anything else becomes `INTERNAL`
with a generic message and a request id that is logged with the traceback; callers never
see `UNKNOWN` or internals.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc

from seqserve.server import errors
from seqserve.server.api.observe import current_request_id

log = logging.getLogger(__name__)

STATUS: dict[type[errors.SeqServeError], grpc.StatusCode] = {
    errors.ModelNotFound: grpc.StatusCode.NOT_FOUND,
    errors.VersionNotFound: grpc.StatusCode.NOT_FOUND,
    errors.SessionNotFound: grpc.StatusCode.NOT_FOUND,
    errors.InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    errors.ModelNotReady: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Overloaded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    errors.Starting: grpc.StatusCode.UNAVAILABLE,
}

R = TypeVar("R")
Unary = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]]
Streaming = Callable[[Any, Any, grpc.aio.ServicerContext], AsyncIterator[R]]


def code_for(exc: errors.SeqServeError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return grpc.StatusCode.INTERNAL


async def abort_with(context: grpc.aio.ServicerContext, exc: BaseException) -> NoReturn:
    if isinstance(exc, errors.SeqServeError):
        await context.abort(code_for(exc), exc.message)
    request_id = current_request_id() or uuid.uuid4().hex[:12]  # the call's x-request-id
    log.error("request %s failed", request_id, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")
    raise AssertionError("unreachable")  # pragma: no cover


def unary(method: Unary[R]) -> Unary[R]:
    """Map the errors of a unary(-response) servicer method."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await method(self, request, context)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            await abort_with(context, exc)

    return wrapper


def streaming(method: Streaming[R]) -> Streaming[R]:
    """Map the errors of a streaming-response servicer method."""

    @functools.wraps(method)
    async def wrapper(
        self: Any, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[R]:
        try:
            async for response in method(self, request, context):
                yield response
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            await abort_with(context, exc)

    return wrapper
