"""tensor: any ONNX graph, named arrays in and out, batched when the graph allows it.

A graph whose every input and output has a free first dimension (-1 in the manifest) is
batchable: each row of a request is one batcher item, so `max_batch_size` counts rows as it
does for the other kinds, and requests' rows are concatenated into one onnxruntime call.
If a batched call's outputs do not have one row per input row (a graph whose free first
dimension is not a batch), the rows run again one request at a time. Any other graph runs
each request alone (one batcher item per request, batches of one).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from seqserve.server.engines.base import BatchedEngine
from seqserve.server.errors import WrongApi
from seqserve.server.execution.batcher import Batcher
from seqserve.server.execution.capacity import Capacity
from seqserve.server.results import ItemResult
from seqserve.server.totals import ModelTotals
from seqserve.v1 import seqserve_pb2 as pb

Arrays = dict[str, np.ndarray]


def batchable(info: pb.ModelInfo) -> bool:
    """Every input and output of the graph has a free first dimension."""
    graph = info.graphs[0]
    return all(spec.shape and spec.shape[0] == -1 for spec in (*graph.inputs, *graph.outputs))


class TensorEngine(BatchedEngine):
    def __init__(
        self,
        info: pb.ModelInfo,
        session: Any,
        capacity: Capacity,
        totals: ModelTotals,
        warmup: Arrays,
    ) -> None:
        super().__init__(info)
        graph = info.graphs[0]
        self._session = session
        self._inputs = [spec.name for spec in graph.inputs]
        self._outputs = [spec.name for spec in graph.outputs]
        self.batchable = batchable(info)
        if not self.batchable:
            capacity = dataclasses.replace(capacity, max_batch_size=1)
        self.batcher: Batcher[Arrays, Arrays] = Batcher.configured(
            info.name, self.run, capacity, totals
        )
        self._warmup = warmup  # the inputs of a warm-up run

    def warmup(self) -> None:
        self.run([self._warmup])

    async def predict(self, items: Any, deadline: float | None) -> list[ItemResult]:
        raise WrongApi(self.info.name)

    async def infer(self, arrays: Arrays, rows: int, deadline: float | None) -> Arrays:
        """The graph's outputs for one request's inputs (`rows`: its first dimension)."""
        if not self.batchable:
            (out,) = await self.batcher.infer([arrays], deadline)
            return out
        items = [{k: v[i : i + 1] for k, v in arrays.items()} for i in range(rows)]
        outs = await self.batcher.infer(items, deadline)
        if len(outs) == 1:
            return outs[0]
        return {name: np.concatenate([o[name] for o in outs]) for name in self._outputs}

    # ------------------------------------------------------------ batch (worker thread)

    def run(self, items: list[Arrays]) -> list[Arrays]:
        if len(items) == 1:
            return [self._call(items[0])]
        feed = {name: np.concatenate([item[name] for item in items]) for name in self._inputs}
        out = self._call(feed)
        if any(array.shape[:1] != (len(items),) for array in out.values()):
            return [self._call(item) for item in items]  # not a batch dimension after all
        return [{k: v[i : i + 1] for k, v in out.items()} for i in range(len(items))]

    def _call(self, feed: Arrays) -> Arrays:
        return dict(zip(self._outputs, self._session.run(self._outputs, feed), strict=True))
