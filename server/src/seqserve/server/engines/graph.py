"""Single-graph kinds (classify, tag, fixed_seq2seq, regress): one call `x -> y`, batched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqserve.contract import codecs
from seqserve.server.engines.base import BatchedEngine, sample_item
from seqserve.server.execution.batcher import Batcher
from seqserve.server.execution.capacity import Capacity
from seqserve.server.onehot import OneHot
from seqserve.server.results import Encoded, Floats, ItemResult, symbol_results
from seqserve.server.totals import ModelTotals
from seqserve.v1 import seqserve_pb2 as pb


class GraphEngine(BatchedEngine):
    """Validated items -> one onnxruntime call per batch -> per-kind results."""

    def __init__(
        self, info: pb.ModelInfo, session: Any, capacity: Capacity, totals: ModelTotals
    ) -> None:
        super().__init__(info)
        graph = info.graphs[0]
        self._session = session
        self._x = graph.inputs[0].name
        self._y = [graph.outputs[0].name]
        self._x_shape = tuple(int(d) for d in graph.inputs[0].shape[1:])
        self._scaled = info.input.encoding == pb.ENCODING_SCALED
        self._onehot = OneHot(self._x_shape, capacity.max_batch_size)
        self.batcher: Batcher[Encoded, ItemResult] = Batcher.configured(
            info.name, self.run, capacity, totals
        )

    def warmup(self) -> None:
        self.run([sample_item(self.info.input)])

    async def predict(self, items: Sequence[Encoded], deadline: float | None) -> list[ItemResult]:
        return await self.batcher.infer(items, deadline)

    # ------------------------------------------------------------ batch (worker thread)

    def run(self, items: list[Encoded]) -> list[ItemResult]:
        y: Floats = self._session.run(self._y, {self._x: self._encode(items)})[0]
        kind = self.info.kind
        if kind == pb.SERVING_KIND_REGRESS:
            return self._regress(y)
        if kind == pb.SERVING_KIND_CLASSIFY:
            return self._classify(y)
        return self._sequence(y)

    def _encode(self, items: list[Encoded]) -> Floats:
        if self._scaled:
            values = np.asarray(items, dtype=np.float32) / np.float32(self.info.input.scale)
            return values.reshape((len(items), *self._x_shape))
        return self._onehot(np.asarray(items, dtype=np.int64))

    def _classify(self, y: Floats) -> list[ItemResult]:
        # the probability of the argmax is the row maximum, as for sequences below
        chosen, conf = y.argmax(axis=1), y.max(axis=1)
        return symbol_results(self.info.output, chosen[:, None], conf[:, None], probabilities=y)

    def _sequence(self, y: Floats) -> list[ItemResult]:
        # the probability of the argmax is the maximum: no gather needed
        return symbol_results(self.info.output, y.argmax(axis=2), y.max(axis=2))

    def _regress(self, y: Floats) -> list[ItemResult]:
        spec = self.info.output
        out: list[ItemResult] = []
        for raw in y.reshape(len(y), -1)[:, 0].tolist():
            value = codecs.denormalise(spec, raw)
            out.append(ItemResult(value=value, rounded=round(value)))
        return out
