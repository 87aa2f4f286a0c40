"""ModelStatistics: KServe request counts and times per model version, plus the engine's
queue and compute totals (the counters behind the Prometheus metrics).

Triton's fields as seqserve fills them: `success`/`fail` count KServe requests and their
total time in nanoseconds, `inference_count` the items they inferred (a batch of n counts
n), `last_inference` the time of the last one in milliseconds since the epoch. From the
core's per-model totals (`seqserve.server.totals`), which count every request of both
protocols: `queue` (items waiting for a batch or a decoder slot, and their total wait),
`compute_infer` and `execution_count` (batched onnxruntime calls and their total time).
The engine totals are kept per model, so they are reported on its newest version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.repository import ModelState
from seqserve.server.totals import ModelTotals


@dataclass(slots=True)
class _Counters:
    success: int = 0
    success_ns: int = 0
    fail: int = 0
    fail_ns: int = 0
    items: int = 0
    last_ms: int = 0


class Statistics:
    def __init__(self) -> None:
        self._models: dict[tuple[str, int], _Counters] = {}

    def record(self, name: str, version: int, items: int, ok: bool, elapsed_ns: int) -> None:
        counters = self._models.setdefault((name, version), _Counters())
        if ok:
            counters.success += 1
            counters.success_ns += elapsed_ns
            counters.items += items
        else:
            counters.fail += 1
            counters.fail_ns += elapsed_ns
        counters.last_ms = time.time_ns() // 1_000_000

    def model(
        self, name: str, version: int, engine: ModelTotals | None = None
    ) -> kpb.ModelStatistics:
        c = self._models.get((name, version), _Counters())
        stats = kpb.ModelStatistics(
            name=name, version=str(version), last_inference=c.last_ms, inference_count=c.items
        )
        infer = stats.inference_stats
        infer.success.count, infer.success.ns = c.success, c.success_ns
        infer.fail.count, infer.fail.ns = c.fail, c.fail_ns
        if engine is not None:
            infer.queue.count, infer.queue.ns = engine.queue_count, engine.queue_ns
            infer.compute_infer.count = engine.compute_count
            infer.compute_infer.ns = engine.compute_ns
            stats.execution_count = engine.compute_count
        return stats

    def report(
        self,
        states: Sequence[ModelState],
        version: int,
        totals: Callable[[str], ModelTotals],
    ) -> kpb.ModelStatisticsResponse:
        """The statistics of `version` (0: every ready version) of each model state; the
        engine's `totals` of a model are reported on its newest version."""
        response = kpb.ModelStatisticsResponse()
        for state in states:
            name = state.info.name
            newest = state.versions[-1] if state.versions else 0
            for number in [version] if version else state.versions:
                engine = totals(name) if number == newest else None
                response.model_stats.append(self.model(name, number, engine))
        return response
