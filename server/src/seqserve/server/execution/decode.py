"""The seq2seq decode worker: one thread owning the scheduler and the decoder state.

Jobs arrive through a thread-safe inbox; each iteration the worker admits newcomers
(one batched encoder call), steps every active sequence (one batched decoder call), and
posts what was produced to the event loop in one `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt

from seqserve.server.calls import QueueWait, queue_wait
from seqserve.server.errors import DeadlineExceeded, Overloaded
from seqserve.server.execution import workers
from seqserve.server.execution.scheduler import Finished, Plan, Progress, Scheduler
from seqserve.server.execution.state import DecodeGraphs, StateStore
from seqserve.server.metrics import DecodeHooks
from seqserve.server.onehot import OneHot
from seqserve.server.results import (
    Encoded,
    Final,
    ItemResult,
    StreamEvent,
    SymbolEvent,
    symbol_results,
)
from seqserve.server.settings import WorkerPolicy
from seqserve.server.totals import ModelTotals
from seqserve.v1 import seqserve_pb2 as pb

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Job:
    """One request: its items decode as separate sequences.

    A streaming job gets every event through `events`; a plain one only its final results
    (or error) through `answer`, which is cheaper.
    """

    sources: Sequence[Encoded]
    deadline: float | None
    answer: asyncio.Future[list[ItemResult]]
    events: asyncio.Queue[StreamEvent | BaseException] | None = None
    seq_ids: list[int] = field(default_factory=list)
    results: list[ItemResult | None] = field(default_factory=list)
    remaining: int = 0
    closed: bool = False  # set by the worker once the job has its final answer or error
    queued: float = field(default_factory=time.perf_counter)  # for the queue-time metric
    wait: QueueWait | None = field(default_factory=queue_wait.get)  # KServe statistics


Delivery = tuple[Job, "StreamEvent | BaseException"]


class Order(enum.Enum):
    """What the event loop asks of the worker thread through its inbox."""

    ADD = enum.auto()  # decode a new job
    CANCEL = enum.auto()  # the caller has gone: retire the job's sequences
    STOP = enum.auto()  # end the thread


class DecodeWorker:
    def __init__(
        self,
        info: pb.ModelInfo,
        state: StateStore,
        *,
        max_active: int,
        max_queue: int,
        policy: WorkerPolicy = WorkerPolicy.NORMAL,
        totals: ModelTotals | None = None,
    ) -> None:
        """`totals`: the model's counters the worker's calls add to (a fresh one when None)."""
        self.info = info
        self._policy = policy  # the thread's CPU scheduling (`seqserve.server.execution.workers`)
        self.state = state  # `max_active` rows of decoder state, and the graph calls
        # read once: protobuf field access per produced symbol adds up on the GIL
        self._steps = int(info.decode.steps)
        self._start_symbol = int(info.decode.start_symbol)
        self._end = int(info.decode.end_symbol) if info.decode.HasField("end_symbol") else None
        self._output = info.output
        self._is_text = info.output.kind == pb.DATA_KIND_TEXT
        self._alphabet = info.output.alphabet
        self._source_onehot = OneHot(DecodeGraphs(info).source_shape, max_active)
        # `submit` bounds active + waiting by max_active + max_queue; a job's sequences all
        # wait until the next schedule() admits them, so the scheduler may hold that many.
        self.scheduler = Scheduler(max_active, max_active + max_queue)
        self._max_queue = max_queue
        self._limit = max_active + max_queue
        # sequences in: counted by the event loop; out (done, failed, cancelled): by the
        # worker. Each counter has one writer, so no lock: a stale read of `_done` only
        # overstates what is outstanding, so the bound is never exceeded.
        self._submitted = 0
        self._done = 0
        self._inbox: queue.SimpleQueue[tuple[Order, Job | None]] = queue.SimpleQueue()
        self._seqs: dict[int, tuple[Job, int]] = {}
        self._streaming = 0  # open jobs that want every symbol as an event
        self._ids = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        scheduler = self.scheduler
        self.metrics = DecodeHooks(
            info.name,
            lambda: scheduler.waiting,
            lambda: scheduler.active,
            totals if totals is not None else ModelTotals(),
        )

    # ------------------------------------------------------------ event-loop side

    @property
    def outstanding(self) -> int:
        """Sequences submitted and not yet finished (0: the worker is idle)."""
        return self._submitted - self._done

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = workers.start(self._run, f"decode-{self.info.name}", self._policy)

    def stop(self) -> None:
        if self._thread is not None:
            self._inbox.put((Order.STOP, None))
            self._thread.join()
            self._thread = None

    def submit(self, job: Job) -> None:
        n = len(job.sources)
        if self._submitted - self._done + n > self._limit:
            raise Overloaded(
                f"{self.info.name}: decoder full ({self.scheduler.max_active} active, "
                f"{self._max_queue} waiting sequences: max_active_sequences, max_queue); "
                "retry later"
            )
        self._submitted += n
        self._inbox.put((Order.ADD, job))

    def cancel(self, job: Job) -> None:
        if not job.closed:
            self._inbox.put((Order.CANCEL, job))

    # ------------------------------------------------------------ worker thread

    def _run(self) -> None:
        while True:
            if not self._drain(block=not self.scheduler.has_work):
                return
            if not self.scheduler.has_work:
                continue
            deliveries: list[Delivery] = []
            try:
                self._iterate(deliveries)
            except Exception as exc:  # the whole iteration failed: fail every job in it
                log.exception("%s: decode iteration failed", self.info.name)
                for job in {job for job, _ in self._seqs.values()}:
                    self._close(job, exc, deliveries)
            self._post(deliveries)

    def _drain(self, block: bool) -> bool:
        while True:
            try:
                order, job = self._inbox.get() if block else self._inbox.get_nowait()
            except queue.Empty:
                return True
            block = False
            if order is Order.STOP or job is None:
                return False
            if order is Order.ADD:
                self._admit(job)
            elif not job.closed:
                self._close(job, None, [])

    def _admit(self, job: Job) -> None:
        """Add a job; if that fails, fail the job alone (the worker thread must live on)."""
        try:
            self._add(job)
        except Exception as exc:
            log.exception("%s: could not queue a request", self.info.name)
            self._done += len(job.sources) - len(job.seq_ids)
            out: list[Delivery] = []
            self._close(job, exc, out)
            self._post(out)

    def _add(self, job: Job) -> None:
        steps, start, end = self._steps, self._start_symbol, self._end
        for item, _source in enumerate(job.sources):
            seq_id = next(self._ids)
            self.scheduler.add(seq_id, steps, start, job.deadline, end)
            self._seqs[seq_id] = (job, item)
            job.seq_ids.append(seq_id)
        job.results = [None] * len(job.sources)
        job.remaining = len(job.sources)
        if job.events is not None:
            self._streaming += 1

    def _retired(self, job: Job) -> None:
        job.closed = True
        if job.events is not None:
            self._streaming -= 1

    def _close(self, job: Job, error: BaseException | None, out: list[Delivery]) -> None:
        """Retire all of a job's sequences; deliver `error` unless it was cancelled."""
        self._retired(job)
        self.scheduler.finish(job.seq_ids, "failed" if error else "cancelled")
        live = [seq_id for seq_id in job.seq_ids if self._seqs.pop(seq_id, None) is not None]
        self._done += len(live)
        if error is not None:
            out.append((job, error))

    def _iterate(self, out: list[Delivery]) -> None:
        plan = self.scheduler.schedule(time.monotonic())
        for seq_id in plan.expired:
            if seq_id in self._seqs:
                self._close(self._seqs[seq_id][0], DeadlineExceeded(), out)
        if plan.admitted:
            self._encode(plan)
        if len(plan.slots):
            symbols, confidences = self._step(plan)
            progress = self.scheduler.update(plan, symbols, confidences)
            if self._streaming:
                self._stream_symbols(progress, out)
            if progress.finished:
                self._record(progress.finished, out)

    def _encode(self, plan: Plan) -> None:
        jobs = [self._seqs.get(r.seq_id) for r in plan.admitted]
        sources = [job.sources[item] for job, item in filter(None, jobs)]
        slots = [r.slot for r, job in zip(plan.admitted, jobs, strict=True) if job is not None]
        if not slots:
            return
        x = self._source_onehot(np.asarray(sources, dtype=np.int64))
        started = time.perf_counter()
        self.state.encode(np.asarray(slots, dtype=np.int64), x)
        for job, _ in filter(None, jobs):
            if job.wait is not None and job.wait.ns < 0:  # its first sequence admitted
                job.wait.ns = int((started - job.queued) * 1e9)
        queued = [job.queued for job, _ in filter(None, jobs)]
        self.metrics.encoded(queued, started, time.perf_counter())

    def _step(self, plan: Plan) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        started = time.perf_counter()
        probs = self.state.step(plan.slots, plan.inputs, plan.packed)
        self.metrics.stepped(len(plan.slots), started, time.perf_counter())
        # the probability of the argmax is the row maximum: no gather needed
        return probs.argmax(axis=1), probs.max(axis=1)

    def _stream_symbols(self, progress: Progress, out: list[Delivery]) -> None:
        """A `SymbolEvent` for each symbol of a streaming job produced by this step."""
        rows = zip(
            progress.ids.tolist(),
            progress.positions.tolist(),
            progress.symbols.tolist(),
            progress.confidences.tolist(),
            strict=True,
        )
        for seq_id, position, symbol, confidence in rows:
            job, item = self._seqs[seq_id]
            if job.events is not None and symbol != self._end:  # the end is not an answer
                text = self._alphabet[symbol] if self._is_text else ""
                out.append((job, SymbolEvent(item, position, symbol, text, confidence)))

    def _record(self, finished: tuple[Finished, ...], out: list[Delivery]) -> None:
        """File each finished sequence's result; a job whose last item finished is answered."""
        if self._end is None:  # every sequence of the model has `steps` symbols
            results = symbol_results(
                self._output,
                np.array([done.symbols for done in finished], dtype=np.int64),
                np.array([done.confidences for done in finished], dtype=np.float64),
            )
        else:  # sequences end at their end symbol: rows of different lengths
            symbols = [done.symbols for done in finished]
            results = symbol_results(self._output, symbols, [d.confidences for d in finished])
        for done, result in zip(finished, results, strict=True):
            job, item = self._seqs.pop(done.seq_id)
            job.results[item] = result
            job.remaining -= 1
            if job.remaining == 0:
                self._retired(job)
                out.append((job, Final(cast(list[ItemResult], job.results))))  # all set
        self._done += len(finished)

    def _post(self, deliveries: list[Delivery]) -> None:
        if deliveries and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                self._loop.call_soon_threadsafe(_deliver, deliveries)


def _deliver(deliveries: list[Delivery]) -> None:
    for job, event in deliveries:
        if job.events is not None:
            job.events.put_nowait(event)
        elif job.answer.done():
            continue  # the caller has gone
        elif isinstance(event, BaseException):
            job.answer.set_exception(event)
        elif isinstance(event, Final):
            job.answer.set_result(event.results)
