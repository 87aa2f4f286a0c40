"""The call being served: set by the server interceptor, read by the error mapper and logs."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(slots=True)
class CallState:
    """What the interceptor knows of the call in progress (read by the error mapper)."""

    request_id: str
    method: str
    model: str = ""


current_call: contextvars.ContextVar[CallState | None] = contextvars.ContextVar(
    "seqserve_call", default=None
)


@dataclass(slots=True)
class QueueWait:
    """How long the current request waited for a batch or a decoder slot, in nanoseconds
    (-1: it never queued, e.g. it ran in the fast lane); written once by the worker thread
    that takes it, read by the front-end after the answer (KServe statistics)."""

    ns: int = -1


queue_wait: contextvars.ContextVar[QueueWait | None] = contextvars.ContextVar(
    "seqserve_queue_wait", default=None
)
