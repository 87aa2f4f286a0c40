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
