"""The client's exceptions, and the one place a gRPC status becomes one of them.

    SeqServeError                 any failure; `.message` is the server's text, `.code` its status
     ├── InvalidInput             INVALID_ARGUMENT, or rejected before sending (same message)
     ├── ModelNotFound            NOT_FOUND: unknown model or version
     ├── SessionNotFound          NOT_FOUND: unknown or expired session
     ├── ModelNotReady            FAILED_PRECONDITION: the model is loaded but cannot serve
     ├── Overloaded               RESOURCE_EXHAUSTED: a queue or limit is full; try later
     ├── DeadlineExceeded         DEADLINE_EXCEEDED: the call ran past its timeout
     ├── Cancelled                CANCELLED
     ├── Unavailable              UNAVAILABLE: no server reachable, or it is shutting down
     ├── Unauthenticated          UNAUTHENTICATED: missing or wrong token
     ├── PermissionDenied         PERMISSION_DENIED
     └── InternalError            INTERNAL, UNKNOWN, UNIMPLEMENTED, DATA_LOSS, ...: a server fault

`from_rpc_error` is the only translation from `grpc.RpcError`; every public call of
`Client` and `AsyncClient` goes through it, so a `grpc.RpcError` never reaches a caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from seqserve.contract.reasons import Reason, reason_in

__all__ = [
    "Cancelled",
    "DeadlineExceeded",
    "InternalError",
    "InvalidInput",
    "ModelNotFound",
    "ModelNotReady",
    "Overloaded",
    "PermissionDenied",
    "SeqServeError",
    "SessionNotFound",
    "Unauthenticated",
    "Unavailable",
    "from_rpc_error",
    "translated",
]


class SeqServeError(Exception):
    """Base of every error the client raises.

    `message` is the server's message (or the client's, for failures found before
    sending); `code` the gRPC status name (`"NOT_FOUND"`), or None when none applies.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInput(SeqServeError, ValueError):
    """The input does not fit the model; the message says what is allowed."""


class ModelNotFound(SeqServeError, LookupError):
    """No such model, or no such version of it."""


class SessionNotFound(SeqServeError, LookupError):
    """No such session (closed, expired, or on another server)."""


class ModelNotReady(SeqServeError):
    """The model is known but cannot serve now (failed checks, still loading)."""


class Overloaded(SeqServeError):
    """The server refused the call because a queue or limit is full."""


class DeadlineExceeded(SeqServeError, TimeoutError):
    """The call did not finish within its timeout."""


class Cancelled(SeqServeError):
    """The call was cancelled."""


class Unavailable(SeqServeError, ConnectionError):
    """No server could be reached, or it is shutting down."""


class Unauthenticated(SeqServeError):
    """The server requires a token, or refused the one sent."""


class PermissionDenied(SeqServeError):
    """The caller may not do this."""


class InternalError(SeqServeError):
    """The server failed (or answered with a status this client does not expect)."""


_BY_CODE: dict[grpc.StatusCode, type[SeqServeError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInput,
    grpc.StatusCode.OUT_OF_RANGE: InvalidInput,
    grpc.StatusCode.NOT_FOUND: ModelNotFound,
    grpc.StatusCode.FAILED_PRECONDITION: ModelNotReady,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Overloaded,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


def from_rpc_error(error: grpc.RpcError) -> SeqServeError:
    """The client exception for a failed call, carrying the server's message.

    NOT_FOUND means a missing session when the server's reason (trailing metadata
    `seqserve-reason`) says so, a missing model or version otherwise.
    """
    code = _code_of(error)
    details = _details_of(error)
    message = details or (code.name if code is not None else "call failed")
    cls = _BY_CODE.get(code, InternalError) if code is not None else InternalError
    if _reason_of(error) is Reason.SESSION_NOT_FOUND:
        cls = SessionNotFound
    return cls(message, code.name if code is not None else None)


def _reason_of(error: grpc.RpcError) -> Reason | None:
    trailing = getattr(error, "trailing_metadata", None)
    return reason_in(trailing()) if callable(trailing) else None


def _code_of(error: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(error, "code", None)
    if not callable(code):
        return None
    value = code()
    return value if isinstance(value, grpc.StatusCode) else None


def _details_of(error: grpc.RpcError) -> str:
    details = getattr(error, "details", None)
    text = details() if callable(details) else None
    return " ".join(str(text).split()) if text else ""


@contextmanager
def translated() -> Iterator[None]:
    """Every `grpc.RpcError` raised inside becomes the matching `SeqServeError`."""
    try:
        yield
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None
