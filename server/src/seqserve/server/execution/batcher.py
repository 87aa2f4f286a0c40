"""Dynamic batching: callers' items share one model call.

One worker thread (`seqserve.server.execution.workers`, under `--worker-policy`) owns each batcher's
queue. It takes the first waiting request, adds whatever else is queued (waiting at most
`max_batch_delay_us` for more) up to `max_batch_size` items, makes one call of `run` for
all of them, and hands each caller its slice. A request's items are never split across
calls. Requests whose caller has gone (cancelled future) are dropped before they cost
compute; a failing call fails every waiter of that batch with the same exception. Past
`max_queue` waiting items `submit` raises `Overloaded` at once.

The model call runs on the worker thread (onnxruntime releases the GIL), so the event
loop keeps serving; results come back with one `call_soon_threadsafe` per batch.

Fast lane: `infer` runs a request of at most `inline_max_items` items at once, on the
calling (event-loop) thread, when nothing is queued, the worker is not running a batch and
no other request arrived just before (`seqserve.server.execution.fastlane`): at low load the thread
hand-offs cost more than the model call. The worker takes its
items and marks itself busy under one lock, and only the event loop submits, so a fast-lane
call never overlaps a batch: `run` is never called from two threads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from seqserve.server.calls import QueueWait, queue_wait
from seqserve.server.errors import Overloaded
from seqserve.server.execution import workers
from seqserve.server.execution.capacity import Capacity
from seqserve.server.execution.deadlines import wait_until
from seqserve.server.execution.fastlane import FastLane
from seqserve.server.metrics import BatchHooks
from seqserve.server.settings import WorkerPolicy
from seqserve.server.totals import ModelTotals

log = logging.getLogger(__name__)

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


@dataclass(slots=True)
class _Entry(Generic[I, O]):
    items: Sequence[I]
    future: asyncio.Future[list[O]]
    queued: float  # perf_counter() at submit, for the queue-time metric
    wait: QueueWait | None  # the submitting request's, when it asks (KServe statistics)


class Batcher(Generic[I, O]):
    """A queue and the worker thread that drains it in batches through `run`."""

    def __init__(
        self,
        name: str,
        run: Callable[[list[I]], Sequence[O]],
        *,
        max_batch_size: int,
        max_batch_delay_us: int,
        max_queue: int,
        inline_max_items: int = 0,
        model: str = "",
        policy: WorkerPolicy = WorkerPolicy.NORMAL,
        totals: ModelTotals | None = None,
    ) -> None:
        """`totals`: the model's counters the batches add to (a fresh one when None)."""
        self.name = name
        self._run = run
        self.max_batch_size = max_batch_size
        self._delay = max_batch_delay_us / 1e6
        self.max_queue = max_queue
        self.lane = FastLane(min(inline_max_items, max_queue), lambda: self.idle)
        self._queue: queue.SimpleQueue[_Entry[I, O] | None] = queue.SimpleQueue()
        self._pending = 0
        self._busy = False  # the worker is running a batch (set with `_pending`, under the lock)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._policy = policy  # the worker thread's CPU scheduling (`execution.workers`)
        self._metrics = BatchHooks(
            model or name, lambda: self._pending, totals if totals is not None else ModelTotals()
        )

    @classmethod
    def configured(
        cls,
        name: str,
        run: Callable[[list[I]], Sequence[O]],
        capacity: Capacity,
        totals: ModelTotals,
        model: str = "",
    ) -> Batcher[I, O]:
        """A batcher with the server's batching, queue, fast-lane and worker settings."""
        return cls(
            name,
            run,
            model=model,
            max_batch_size=capacity.max_batch_size,
            max_batch_delay_us=capacity.max_batch_delay_us,
            max_queue=capacity.max_queue,
            inline_max_items=capacity.inline_max_items,
            policy=capacity.worker_policy,
            totals=totals,
        )

    @property
    def pending(self) -> int:
        """Items queued and not yet taken into a batch."""
        return self._pending

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = workers.start(self._work, f"batcher-{self.name}", self._policy)

    def stop(self) -> None:
        """Finish the queued requests, then end the worker."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    async def infer(self, items: Sequence[I], deadline: float | None = None) -> list[O]:
        """The outputs of one request's items, in order: in the fast lane when the batcher
        is idle and the request small, else through the queue (`submit`), waiting until
        `deadline` (`time.monotonic()`) at most: past it, `DeadlineExceeded`."""
        return await self.lane.route(items, deadline, self._run_inline, self._queued)

    def _queued(self, items: Sequence[I], deadline: float | None) -> Awaitable[list[O]]:
        return wait_until(self.submit(items), deadline)

    def submit(self, items: Sequence[I]) -> asyncio.Future[list[O]]:
        """Queue one request's items; the future resolves to their outputs, in order."""
        assert self._loop is not None, "batcher not started"
        with self._lock:
            if self._pending + len(items) > self.max_queue:
                raise Overloaded(
                    f"{self.name}: queue full ({self.max_queue} items waiting; max_queue); "
                    "retry later"
                )
            self._pending += len(items)
        future: asyncio.Future[list[O]] = self._loop.create_future()
        self._queue.put(_Entry(items, future, time.perf_counter(), queue_wait.get()))
        return future

    @property
    def idle(self) -> bool:
        """No item queued and no batch running."""
        with self._lock:
            return self._pending == 0 and not self._busy

    def _run_inline(self, items: Sequence[I]) -> list[O]:
        """One model call on the calling thread; a failure raises to this caller alone."""
        started = time.perf_counter()
        try:
            outputs = list(self._run(list(items)))
        except Exception as exc:
            log.debug("%s: inline call of %d failed: %r", self.name, len(items), exc)
            raise
        finally:
            self._metrics.ran(len(items), (started,), started, time.perf_counter())
        return outputs

    # ------------------------------------------------------------ worker thread

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._collect(first)
            self._execute(batch)
            if stop:
                return

    def _collect(self, first: _Entry[I, O]) -> tuple[list[_Entry[I, O]], bool]:
        batch = [first]
        size = len(first.items)
        until = time.monotonic() + self._delay
        while size < self.max_batch_size:
            try:
                if self._delay <= 0:
                    entry = self._queue.get_nowait()
                else:
                    entry = self._queue.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                break
            if entry is None:
                return batch, True
            batch.append(entry)
            size += len(entry.items)
        return batch, False

    def _execute(self, batch: list[_Entry[I, O]]) -> None:
        with self._lock:
            self._pending -= sum(len(e.items) for e in batch)
            self._busy = True
        try:
            self._answer([e for e in batch if not e.future.done()])
        finally:
            self._busy = False

    def _answer(self, live: list[_Entry[I, O]]) -> None:
        """One call of `run` for the live entries; each gets its slice, or the error."""
        if not live:
            return
        items = [item for e in live for item in e.items]
        started = time.perf_counter()
        for e in live:
            if e.wait is not None:
                e.wait.ns = int((started - e.queued) * 1e9)
        try:
            outputs = self._run(items)
        except Exception as exc:  # every waiter of the batch gets the same error
            log.debug("%s: batch of %d failed: %r", self.name, len(items), exc)
            self._post(_fail, live, exc)
            self._metrics.ran(len(items), [e.queued for e in live], started, time.perf_counter())
            return
        ended = time.perf_counter()
        slices: list[list[O]] = []
        start = 0
        for entry in live:
            end = start + len(entry.items)
            slices.append(list(outputs[start:end]))
            start = end
        self._post(_resolve, live, slices)
        self._metrics.ran(len(items), [e.queued for e in live], started, ended)

    def _post(self, fn: Callable[..., None], *args: object) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # loop closed at shutdown: nobody waits
            self._loop.call_soon_threadsafe(fn, *args)


def _resolve(entries: list[_Entry[I, O]], slices: list[list[O]]) -> None:
    for entry, outputs in zip(entries, slices, strict=True):
        if not entry.future.done():
            entry.future.set_result(outputs)


def _fail(entries: list[_Entry[I, O]], exc: BaseException) -> None:
    for entry in entries:
        if not entry.future.done():
            entry.future.set_exception(exc)
