"""The greedy decoders the seq2seq engine runs synchronously: at warm-up and in its fast lane.

`GreedyDecoder` loops one encoder call and `decode.steps` decoder calls; `ComposedGreedy`
makes one call of the model's greedy graph, the same loop composed into one graph at export.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from seqserve.server.execution.state import DecodeGraphs
from seqserve.server.metrics import DecodeHooks
from seqserve.server.onehot import OneHot
from seqserve.server.results import Encoded, Floats
from seqserve.v1 import seqserve_pb2 as pb


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
