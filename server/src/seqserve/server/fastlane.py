"""When a request may skip its engine's batching worker: the idle fast lane's rule.

A request runs in-line, on the event-loop thread with no thread hand-off, when it has at
most `inline_max_items` items, its engine's worker has nothing to do, and no other request reached
the engine in the last `QUIET_S` seconds. At low load the hand-offs (worker wake-up,
`call_soon_threadsafe`, loop wake-up) cost more than the model call itself. The quiet rule
keeps the lane to low load: under load requests arrive back to back, and running each one
alone on the loop would keep every one of them from batching (each would find the worker
idle, because none had reached it).
"""

from __future__ import annotations

import time

QUIET_S = 200e-6


class FastLane:
    """The admission rule for one engine; used from the event-loop thread only."""

    def __init__(self) -> None:
        self._last = float("-inf")  # the latest arrival or in-line finish (perf_counter)

    def admits(self, count: int, limit: int, worker_idle: bool) -> bool:
        """Whether a request of `count` items arriving now runs in-line (`limit`: the most
        items the lane takes, 0 for none)."""
        now = time.perf_counter()
        quiet = now - self._last >= QUIET_S
        self._last = now
        return quiet and worker_idle and 0 < count <= limit

    def finished(self) -> None:
        """An in-line run ended: requests that queued behind it count as back to back."""
        self._last = time.perf_counter()
