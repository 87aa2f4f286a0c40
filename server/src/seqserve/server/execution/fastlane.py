"""When a request may skip its engine's batching worker: the idle fast lane's rule.

A request runs in-line, on the event-loop thread with no thread hand-off, when it has at
most `inline_max_items` items, its engine's worker has nothing to do, and no other request reached
the engine in the last `QUIET_S` seconds. At low load the hand-offs (worker wake-up,
`call_soon_threadsafe`, loop wake-up) cost more than the model call itself. The quiet rule
keeps the lane to low load: under load requests arrive back to back, and running each one
alone on the loop would keep every one of them from batching (each would find the worker
idle, because none had reached it).

Arrival times alone cannot tell one quick caller from many: while a request runs in-line
the loop reads nothing, and the calls waiting in the gRPC transport stay invisible. So the
lane also looks for company. Every `PROBE`-th request it would take goes through the worker
instead; while that one is there the loop is free, and any request reaching the engine finds
the worker busy. A request that finds the worker busy (company: another request is in
flight) sends the next `HOLD` small requests through the worker as well; under load each of
them finds company again, so requests keep batching until the load ends. One caller at a
time never finds company: it pays the hand-offs on one request in `PROBE`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from seqserve.server.execution.deadlines import refuse_past

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741

QUIET_S = 200e-6
PROBE = 16  # every PROBE-th request the lane would take goes through the worker instead
HOLD = 64  # after a request found the worker busy, the next HOLD small ones go there too


class FastLane:
    """The admission rule for one engine and the routing of its requests; used from the
    event-loop thread only.

    `limit`: the most items the lane takes (0: none); the engine caps it at what its worker
    would accept, so the lane refuses nothing the worker would take. `idle`: whether the
    engine's worker has nothing queued or running.
    """

    def __init__(self, limit: int, idle: Callable[[], bool]) -> None:
        self.limit = limit
        self._idle = idle
        self._last = float("-inf")  # the latest arrival or in-line finish (perf_counter)
        self._hold = 0  # small requests still to send through the worker after company
        self._taken = 0  # requests taken since the last probe

    async def route(
        self,
        items: Sequence[I],
        deadline: float | None,
        inline: Callable[[Sequence[I]], list[O]],
        queued: Callable[[Sequence[I], float | None], Awaitable[list[O]]],
    ) -> list[O]:
        """One request's results: `inline(items)` now, on this thread, when the lane takes
        it, else `await queued(items, deadline)` through the worker. A request already past
        its deadline is refused either way; in-line it cannot pass it half-way."""
        refuse_past(deadline)
        if self.admits(len(items)):
            try:
                return inline(items)
            finally:  # requests that queued behind it count as back to back
                self._last = time.perf_counter()
        return await queued(items, deadline)

    def admits(self, count: int) -> bool:
        """Whether a request of `count` items arriving now runs in-line."""
        now = time.perf_counter()
        quiet = now - self._last >= QUIET_S
        self._last = now
        if not self._idle():
            self._hold = HOLD
            return False
        if not (quiet and 0 < count <= self.limit):
            return False
        if self._hold:
            self._hold -= 1
            return False
        self._taken += 1
        if self._taken == PROBE:
            self._taken = 0
            return False
        return True
