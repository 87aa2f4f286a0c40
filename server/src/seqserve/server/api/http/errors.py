"""Errors -> HTTP: the server's one error table (`seqserve.server.api.status`) read through
one map from its status codes to HTTP codes, and a JSON body `{"error": "..."}` as KServe
REST specifies; the table's reason goes in the `seqserve-reason` header.

| status | HTTP |
|---|---|
| INVALID_ARGUMENT | 400 |
| UNAUTHENTICATED | 401 |
| NOT_FOUND | 404 |
| FAILED_PRECONDITION | 409 |
| RESOURCE_EXHAUSTED | 429, with `Retry-After` |
| CANCELLED | 499 (the caller went away) |
| UNAVAILABLE | 503, with `Retry-After` |
| DEADLINE_EXCEEDED | 504 |
| INTERNAL (anything unexpected) | 500, with a request id; the traceback is logged |

What only HTTP has is `HttpError` with its own code: a body over `max_message_bytes` (413),
a body sent too slowly (408), a content type that is not JSON (415), a method or path the
server does not serve (405, 404).
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from starlette.responses import JSONResponse

from seqserve.contract import reasons
from seqserve.server import errors
from seqserve.server.api.status import status_for
from seqserve.server.calls import current_call

log = logging.getLogger(__name__)

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.INTERNAL: 500,
}
RETRY_AFTER_SECONDS = "1"  # overload and draining: try again (elsewhere) shortly


class HttpError(Exception):
    """A failure of the HTTP request itself, before any model is involved."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def status_and_message(exc: BaseException) -> tuple[int, str, reasons.Reason | None]:
    """The HTTP code, caller-facing message and reason of any exception; internals are
    logged only."""
    if isinstance(exc, HttpError):
        return exc.status, exc.message, None
    if isinstance(exc, errors.SeqServeError):
        code, reason = status_for(exc)
        return HTTP_STATUS[code], exc.message, reason
    call = current_call.get()
    request_id = call.request_id if call is not None else "-"
    log.error("request %s failed", request_id, exc_info=exc)
    return 500, f"internal error (request id {request_id})", None


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    status, message, _ = status_and_message(exc)
    return status, {"error": message}


def error_response(exc: BaseException) -> JSONResponse:
    """`{"error": message}`, with the reason in a `seqserve-reason` header (as gRPC sends it
    in trailing metadata) and `Retry-After` on overload and unavailability."""
    status, message, reason = status_and_message(exc)
    headers = {"retry-after": RETRY_AFTER_SECONDS} if status in (429, 503) else {}
    if reason is not None:
        headers[reasons.KEY] = reason.value
    return JSONResponse({"error": message}, status_code=status, headers=headers)
