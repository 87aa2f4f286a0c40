"""seq2seq engine: the event-loop side of the continuous-batching decode worker, and its
fast lane: a small request to an idle engine is decoded at once on the event-loop thread.

At low load the worker's thread hand-offs (inbox, worker wake-up, `call_soon_threadsafe`,
loop wake-up) and scheduler bookkeeping cost more than the onnxruntime calls themselves.
When the worker has no sequence (`outstanding == 0`) and the engine has been quiet
(`seqserve.server.execution.fastlane`), a `predict` of at most `inline_max_items` items is decoded
in-line instead, all rows at once: in one call of the model's greedy graph when its manifest
has one, else by the plain greedy loop (one encoder call, then `decode.steps` decoder calls).
The worker cannot gain sequences meanwhile (only the event loop submits), and the in-line
decoder owns its one-hot buffers; the onnxruntime sessions may be called from both threads.
Streams always use the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from seqserve.server.engines.base import (
    Engine,
    sample_item,
)
from seqserve.server.engines.greedy import ComposedGreedy, GreedyDecoder, end_symbol, until_end
from seqserve.server.execution.capacity import Capacity
from seqserve.server.execution.deadlines import wait_until
from seqserve.server.execution.decode import DecodeWorker, Job
from seqserve.server.execution.fastlane import FastLane
from seqserve.server.execution.state import decode_state
from seqserve.server.results import Encoded, Final, ItemResult, StreamEvent, symbol_results
from seqserve.server.totals import ModelTotals
from seqserve.v1 import seqserve_pb2 as pb

log = logging.getLogger(__name__)


class Seq2SeqEngine(Engine):
    def __init__(
        self,
        info: pb.ModelInfo,
        encoder: Any,
        decoder: Any,
        capacity: Capacity,
        totals: ModelTotals,
        greedy: Any | None = None,
    ) -> None:
        """`greedy`: the session of the model's greedy graph, if it has one (the fast lane
        then decodes in one call)."""
        super().__init__(info)
        rows = capacity.max_active_sequences
        self.worker = DecodeWorker(
            info,
            decode_state(info, encoder, decoder, rows, capacity.decode_state),
            max_active=rows,
            max_queue=capacity.max_queue,
            policy=capacity.worker_policy,
            totals=totals,
        )
        limit = min(capacity.inline_max_items, rows + capacity.max_queue)
        self.lane = FastLane(limit, lambda: self.idle)
        self._stepwise = GreedyDecoder(info, encoder, decoder, max(1, limit))
        self._greedy: GreedyDecoder | ComposedGreedy = (
            self._stepwise if greedy is None else ComposedGreedy(info, greedy)
        )
        self._end = end_symbol(info)

    def warmup(self) -> None:
        """One greedy decode of a valid input, synchronously, outside the worker: through
        the worker's graphs, and through the greedy graph when there is one."""
        sample = [sample_item(self.info.input)]
        self._stepwise(sample)
        if self._greedy is not self._stepwise:
            self._greedy(sample)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.worker.start(loop)

    def stop(self) -> None:
        self.worker.stop()

    @property
    def idle(self) -> bool:
        return self.worker.outstanding == 0

    async def predict(self, items: Sequence[Encoded], deadline: float | None) -> list[ItemResult]:
        return await self.lane.route(items, deadline, self._decode_inline, self._queued)

    async def _queued(self, items: Sequence[Encoded], deadline: float | None) -> list[ItemResult]:
        job = Job(items, deadline, asyncio.get_running_loop().create_future())
        self.worker.submit(job)
        try:  # the worker also retires sequences past the deadline at its next iteration
            return await wait_until(job.answer, deadline)
        finally:
            self.worker.cancel(job)  # no-op once the job has its answer

    async def stream(
        self, items: Sequence[Encoded], deadline: float | None
    ) -> AsyncGenerator[StreamEvent, None]:
        events: asyncio.Queue[StreamEvent | BaseException] = asyncio.Queue()
        job = Job(items, deadline, asyncio.get_running_loop().create_future(), events)
        self.worker.submit(job)
        try:
            while True:
                event = await events.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                if isinstance(event, Final):
                    return
        finally:
            self.worker.cancel(job)  # no-op once the job has its answer

    def _decode_inline(self, items: Sequence[Encoded]) -> list[ItemResult]:
        """The fast lane: the whole greedy decode now, on this (the event-loop) thread."""
        try:  # counted in the model's metrics like the worker's calls
            symbols, confidence = self._greedy(items, self.worker.metrics)
        except Exception:  # as the worker does: log, and the caller gets the same error
            log.exception("%s: inline decode failed", self.info.name)
            raise
        if self._end is not None:
            return symbol_results(self.info.output, *until_end(symbols, confidence, self._end))
        return symbol_results(self.info.output, symbols, confidence)
