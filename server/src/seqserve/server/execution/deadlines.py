"""Call deadlines, as `time.monotonic()` instants: refuse a call past its own, or stop waiting.

Only waits need a timer: a request the fast lane answers at once on the event loop is
checked once (`refuse_past`) and cannot pass its deadline half-way, since nothing else runs
meanwhile. Requests that wait for a worker wait through `wait_until`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from seqserve.server.errors import DeadlineExceeded

T = TypeVar("T")


def refuse_past(deadline: float | None) -> None:
    """Raise `DeadlineExceeded` if `deadline` has passed."""
    if deadline is not None and deadline <= time.monotonic():
        raise DeadlineExceeded()


async def wait_until(awaitable: Awaitable[T], deadline: float | None) -> T:
    """`await awaitable`; once `deadline` passes, cancel it and raise `DeadlineExceeded`."""
    if deadline is None:
        return await awaitable
    try:
        async with asyncio.timeout_at(_loop_time(deadline)):
            return await awaitable
    except TimeoutError:
        raise DeadlineExceeded() from None


@contextlib.asynccontextmanager
async def within(deadline: float | None) -> AsyncIterator[None]:
    """The body, cancelled with `DeadlineExceeded` once `deadline` passes."""
    if deadline is None:
        yield
        return
    try:
        async with asyncio.timeout_at(_loop_time(deadline)):
            yield
    except TimeoutError:
        raise DeadlineExceeded() from None


def _loop_time(deadline: float) -> float:
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())
