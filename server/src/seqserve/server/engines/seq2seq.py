"""seq2seq engine: the event-loop side of the continuous-batching decode worker, and its
fast lane: a small request to an idle engine is decoded at once on the event-loop thread.

At low load the worker's thread hand-offs (inbox, worker wake-up, `call_soon_threadsafe`,
loop wake-up) and scheduler bookkeeping cost more than the onnxruntime calls themselves.
When the worker has no sequence (`outstanding == 0`) and the engine has been quiet
(`seqserve.server.fastlane`), a `predict` of at most `inline_max_items` items is decoded
in-line instead, all rows at once: in one call of the model's greedy graph when its manifest
has one, else by the plain greedy loop (one encoder call, then `decode.steps` decoder calls).
The worker cannot gain sequences meanwhile (only the event loop submits), and the in-line
decoder owns its one-hot buffers; the onnxruntime sessions may be called from both threads.
Streams always use the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from seqserve.server.deadlines import refuse_past, wait_until
from seqserve.server.engines.base import (
    Encoded,
    Engine,
    Floats,
    ItemResult,
    OneHot,
    StreamEvent,
    sample_item,
    symbol_results,
)
from seqserve.server.engines.decode import DecodeWorker, Job
from seqserve.server.engines.state import DecodeGraphs, DeviceState, HostState, StateStore
from seqserve.server.fastlane import FastLane
from seqserve.server.metrics import DecodeHooks
from seqserve.server.runtime import CUDA
from seqserve.server.settings import DecodeState, Settings
from seqserve.v1 import seqserve_pb2 as pb

log = logging.getLogger(__name__)


class GreedyDecoder:
    """Greedy decoding of a few sequences together, synchronously on the calling thread.

    Warm-up and the fast lane use it. Its one-hot buffers are its own: one owner thread.
    """

    def __init__(self, info: pb.ModelInfo, encoder: Any, decoder: Any, capacity: int) -> None:
        names = DecodeGraphs(info)
        self._encoder, self._decoder = encoder, decoder
        self._source_name = names.source
        self._encoded = names.encoded
        self._dec_inputs = [names.symbol, *names.state_in]
        self._dec_outputs = [names.probs, *names.state_out]
        self._steps = int(info.decode.steps)
        self._start_symbol = int(info.decode.start_symbol)
        self._end = end_symbol(info)
        self._sources = OneHot(names.source_shape, capacity)
        self._symbols = OneHot((names.vocabulary,), capacity)

    def __call__(
        self, sources: Sequence[Encoded], hooks: DecodeHooks | None = None
    ) -> tuple[npt.NDArray[np.int64], Floats]:
        """Each source's chosen symbols and their probabilities, `[len(sources), steps]`;
        the calls are counted in `hooks` when given (not for warm-up). With an end symbol,
        the loop stops once every row has chosen it (`until_end` cuts the rows there)."""
        n = len(sources)
        x = self._sources(np.asarray(sources, dtype=np.int64))
        started = time.perf_counter()
        state = self._encoder.run(self._encoded, {self._source_name: x})
        if hooks is not None:
            hooks.encoded((started,) * n, started, time.perf_counter())
        symbols = np.full((n, self._steps), -1 if self._end is None else self._end, np.int64)
        confidence = np.zeros((n, self._steps), dtype=np.float32)
        fed = np.full(n, self._start_symbol, dtype=np.int64)
        for step in range(self._steps):
            feeds = dict(zip(self._dec_inputs, (self._symbols(fed), *state), strict=True))
            started = time.perf_counter()
            probs, *state = self._decoder.run(self._dec_outputs, feeds)
            if hooks is not None:
                hooks.stepped(n, started, time.perf_counter())
            fed = probs.argmax(axis=1)
            symbols[:, step] = fed
            confidence[:, step] = probs.max(axis=1)  # the argmax's probability
            if self._end is not None and (symbols[:, : step + 1] == self._end).any(axis=1).all():
                break
        return symbols, confidence


class ComposedGreedy:
    """The whole greedy decode in one call of the model's greedy graph (ids -> symbols and
    their probabilities), when its manifest has one: `GreedyDecoder`'s loop, composed into
    one graph at export. One onnxruntime call instead of `1 + decode.steps`."""

    def __init__(self, info: pb.ModelInfo, session: Any) -> None:
        graph = next(g for g in info.graphs if g.role == pb.GRAPH_ROLE_GREEDY)
        self._session = session
        self._ids = graph.inputs[0].name
        self._outputs = [t.name for t in graph.outputs]  # symbols, confidence

    def __call__(
        self, sources: Sequence[Encoded], hooks: DecodeHooks | None = None
    ) -> tuple[npt.NDArray[np.int64], Floats]:
        ids = np.asarray(sources, dtype=np.int64)
        started = time.perf_counter()
        symbols, confidence = self._session.run(self._outputs, {self._ids: ids})
        if hooks is not None:
            hooks.decoded(len(ids), started, time.perf_counter())
        return symbols, confidence


def end_symbol(info: pb.ModelInfo) -> int | None:
    """The symbol that ends a sequence, if the model has one."""
    return int(info.decode.end_symbol) if info.decode.HasField("end_symbol") else None


def until_end(
    symbols: npt.NDArray[np.int64], confidence: Floats, end: int
) -> tuple[list[list[int]], list[list[float]]]:
    """Each row cut before its first `end` symbol (the whole row when it has none)."""
    rows, confs = [], []
    for row, conf in zip(symbols.tolist(), confidence.tolist(), strict=True):
        n = row.index(end) if end in row else len(row)
        rows.append(row[:n])
        confs.append(conf[:n])
    return rows, confs


def decode_state(
    info: pb.ModelInfo, encoder: Any, decoder: Any, rows: int, where: DecodeState
) -> StateStore:
    """The decode worker's state store: on the decoder's device when asked, or by default
    when that device is CUDA (`seqserve.server.engines.state`)."""
    device = "cuda" if decoder.get_providers()[0] == CUDA else "cpu"
    if where is DecodeState.DEVICE or (where is DecodeState.AUTO and device == "cuda"):
        log.info("%s: decoder state kept on the %s device (I/O binding)", info.name, device)
        return DeviceState(info, encoder, decoder, rows, device)
    return HostState(info, encoder, decoder, rows)


class Seq2SeqEngine(Engine):
    def __init__(
        self,
        info: pb.ModelInfo,
        encoder: Any,
        decoder: Any,
        settings: Settings,
        greedy: Any | None = None,
    ) -> None:
        """`greedy`: the session of the model's greedy graph, if it has one (the fast lane
        then decodes in one call)."""
        super().__init__(info)
        rows = settings.max_active_sequences
        self.worker = DecodeWorker(
            info,
            decode_state(info, encoder, decoder, rows, settings.decode_state),
            max_active=rows,
            max_queue=settings.max_queue,
            policy=settings.worker_policy,
        )
        # never more than the worker would accept: the fast lane refuses nothing it would take
        limit = settings.max_active_sequences + settings.max_queue
        self.inline_max_items = min(settings.inline_max_items, limit)
        self._lane = FastLane()
        self._stepwise = GreedyDecoder(info, encoder, decoder, max(1, self.inline_max_items))
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
        if self._lane.admits(len(items), self.inline_max_items, self.idle):
            return self._lane.run(self._decode_inline, items, deadline)
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
                if isinstance(event, list):
                    return
        finally:
            self.worker.cancel(job)  # no-op once the job has its answer

    def _decode_inline(self, items: Sequence[Encoded], deadline: float | None) -> list[ItemResult]:
        """The fast lane: the whole greedy decode now, on this (the event-loop) thread."""
        refuse_past(deadline)
        try:  # counted in the model's metrics like the worker's calls
            symbols, confidence = self._greedy(items, self.worker.metrics)
        except Exception:  # as the worker does: log, and the caller gets the same error
            log.exception("%s: inline decode failed", self.info.name)
            raise
        if self._end is not None:
            return symbol_results(self.info.output, *until_end(symbols, confidence, self._end))
        return symbol_results(self.info.output, symbols, confidence)
