"""stateful_step: concurrent steps of different sessions share one step-graph call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqserve.server.engines.base import BatchedEngine
from seqserve.server.execution.batcher import Batcher
from seqserve.server.execution.capacity import Capacity
from seqserve.server.onehot import OneHot
from seqserve.server.results import Floats
from seqserve.server.totals import ModelTotals
from seqserve.v1 import seqserve_pb2 as pb


@dataclass(frozen=True, slots=True)
class StepInput:
    symbol: int
    h: Floats
    c: Floats


@dataclass(frozen=True, slots=True)
class StepOutput:
    symbol: int  # the predicted next symbol
    probabilities: Floats
    h: Floats
    c: Floats


class StepEngine(BatchedEngine):
    def __init__(
        self, info: pb.ModelInfo, session: Any, capacity: Capacity, totals: ModelTotals
    ) -> None:
        super().__init__(info)
        graph = info.graphs[0]
        self._session = session
        self._inputs = [t.name for t in graph.inputs]
        self.state_size = int(info.decode.state_size)
        self._onehot = OneHot((int(graph.inputs[0].shape[1]),), capacity.max_batch_size)
        self.batcher: Batcher[StepInput, StepOutput] = Batcher.configured(
            f"{info.name}-step", self.run, capacity, totals, model=info.name
        )

    def zeros(self) -> Floats:
        return np.zeros(self.state_size, dtype=np.float32)

    def warmup(self) -> None:
        self.run([StepInput(int(self.info.input.min_value), self.zeros(), self.zeros())])

    async def step(self, item: StepInput) -> StepOutput:
        (out,) = await self.batcher.infer((item,))
        return out

    def run(self, items: list[StepInput]) -> list[StepOutput]:
        x = self._onehot(np.fromiter((i.symbol for i in items), np.int64, len(items)))
        h = np.stack([i.h for i in items])
        c = np.stack([i.c for i in items])
        feeds = dict(zip(self._inputs, (x, h, c), strict=True))
        probs, h_out, c_out = self._session.run(None, feeds)
        chosen = probs.argmax(axis=1).tolist()
        return [StepOutput(chosen[k], probs[k], h_out[k], c_out[k]) for k in range(len(items))]
