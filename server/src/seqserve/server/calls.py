"""The call being served: set by the server interceptor, read by the error mapper and logs."""

from __future__ import annotations

import asyncio
import contextlib
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


class ActiveCalls:
    """How many calls are being served (the interceptor counts them), so that a stopping
    server can let them finish before it closes its connections; once `closing`, new
    calls are not taken."""

    def __init__(self) -> None:
        self.count = 0
        self.closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> bool:
        """Count a new call; False (not counted) once closing: refuse it."""
        if self.closing:
            return False
        self.count += 1
        self._idle.clear()
        return True

    def end(self) -> None:
        self.count -= 1
        if self.count <= 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Take no new calls; whether every call ended within `timeout` seconds."""
        self.closing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        return self.count <= 0


active_calls = ActiveCalls()


@dataclass(slots=True)
class QueueWait:
    """How long the current request waited for a batch or a decoder slot, in nanoseconds
    (-1: it never queued, e.g. it ran in the fast lane); written once by the worker thread
    that takes it, read by the front-end after the answer (KServe statistics)."""

    ns: int = -1


queue_wait: contextvars.ContextVar[QueueWait | None] = contextvars.ContextVar(
    "seqserve_queue_wait", default=None
)
