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
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

QUIET_S = 200e-6
PROBE = 16  # every PROBE-th request the lane would take goes through the worker instead
HOLD = 64  # after a request found the worker busy, the next HOLD small ones go there too


class FastLane:
    """The admission rule for one engine; used from the event-loop thread only."""

    def __init__(self) -> None:
        self._last = float("-inf")  # the latest arrival or in-line finish (perf_counter)
        self._hold = 0  # small requests still to send through the worker after company
        self._taken = 0  # requests taken since the last probe

    def admits(self, count: int, limit: int, worker_idle: bool) -> bool:
        """Whether a request of `count` items arriving now runs in-line (`limit`: the most
        items the lane takes, 0 for none)."""
        now = time.perf_counter()
        quiet = now - self._last >= QUIET_S
        self._last = now
        if not worker_idle:
            self._hold = HOLD
            return False
        if not (quiet and 0 < count <= limit):
            return False
        if self._hold:
            self._hold -= 1
            return False
        self._taken += 1
        if self._taken == PROBE:
            self._taken = 0
            return False
        return True

    def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)` in-line, now, for a request `admits` took."""
        try:
            return call(*args)
        finally:  # requests that queued behind it count as back to back
            self._last = time.perf_counter()
