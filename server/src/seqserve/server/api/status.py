"""Errors -> gRPC status and reason, in one table, applied by one pair of decorators.

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

from seqserve.contract import reasons
from seqserve.contract.reasons import Reason
from seqserve.server import errors
from seqserve.server.api.observe import current_request_id

log = logging.getLogger(__name__)

# Each domain error's status and the reason sent beside it (trailing metadata).
STATUS: dict[type[errors.SeqServeError], tuple[grpc.StatusCode, Reason]] = {
    errors.ModelNotFound: (grpc.StatusCode.NOT_FOUND, Reason.MODEL_NOT_FOUND),
    errors.VersionNotFound: (grpc.StatusCode.NOT_FOUND, Reason.VERSION_NOT_FOUND),
    errors.SessionNotFound: (grpc.StatusCode.NOT_FOUND, Reason.SESSION_NOT_FOUND),
    errors.InvalidInput: (grpc.StatusCode.INVALID_ARGUMENT, Reason.INVALID_INPUT),
    errors.ModelNotReady: (grpc.StatusCode.FAILED_PRECONDITION, Reason.MODEL_NOT_READY),
    errors.WrongApi: (grpc.StatusCode.FAILED_PRECONDITION, Reason.WRONG_API),
    errors.Overloaded: (grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.OVERLOADED),
    errors.DeadlineExceeded: (grpc.StatusCode.DEADLINE_EXCEEDED, Reason.DEADLINE_EXCEEDED),
    errors.ShuttingDown: (grpc.StatusCode.UNAVAILABLE, Reason.SHUTTING_DOWN),
    errors.Starting: (grpc.StatusCode.UNAVAILABLE, Reason.STARTING),
}

R = TypeVar("R")
Unary = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]]
Streaming = Callable[[Any, Any, grpc.aio.ServicerContext], AsyncIterator[R]]


def status_for(exc: errors.SeqServeError) -> tuple[grpc.StatusCode, Reason | None]:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return grpc.StatusCode.INTERNAL, None


async def abort_with(context: grpc.aio.ServicerContext, exc: BaseException) -> NoReturn:
    if isinstance(exc, errors.SeqServeError):
        code, reason = status_for(exc)
        if reason is not None:  # beside what the call already set (its x-request-id)
            sent = tuple(context.trailing_metadata() or ())
            context.set_trailing_metadata((*sent, (reasons.KEY, reason.value)))
        await context.abort(code, exc.message)
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
