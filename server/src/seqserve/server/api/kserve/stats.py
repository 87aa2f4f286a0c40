"""ModelStatistics: KServe inference requests per model version, in Triton's terms.

Each successful request counts once in `success`, `queue`, `compute_input`,
`compute_infer` and `compute_output` (so those counts are always equal, as Triton's tools
require), with its time in each phase in nanoseconds: `success` from the request's arrival
to its response, `queue` waiting for a batch or a decoder slot, `compute_input` reading
and validating the input tensor, `compute_infer` the model calls (the batch the request
ran in, or its decoding), `compute_output` writing the output tensors. `fail` counts
failed requests and their time; `inference_count` the items inferred (a batch of n counts
n); `last_inference` the time of the last one, in milliseconds since the epoch.
`execution_count` (batched onnxruntime calls, both protocols) comes from the engine's
per-model totals (`seqserve.server.totals`), which are kept per model, so it is
reported on the model's newest version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.repository import ModelState
from seqserve.server.totals import ModelTotals


@dataclass(slots=True)
class Phases:
    """One request's nanoseconds in each phase (the parts of its whole time)."""

    queue: int = 0
    compute_input: int = 0
    compute_infer: int = 0
    compute_output: int = 0


@dataclass(slots=True)
class _Counters:
    success: int = 0
    success_ns: int = 0
    fail: int = 0
    fail_ns: int = 0
    items: int = 0
    last_ms: int = 0
    queue_ns: int = 0
    input_ns: int = 0
    infer_ns: int = 0
    output_ns: int = 0


class Statistics:
    def __init__(self) -> None:
        self._models: dict[tuple[str, int], _Counters] = {}

    def record(
        self, name: str, version: int, items: int, elapsed_ns: int, phases: Phases | None
    ) -> None:
        """One request: successful with its `phases`, or failed (`phases` None)."""
        counters = self._models.get((name, version))
        if counters is None:
            counters = self._models[(name, version)] = _Counters()
        if phases is not None:
            counters.success += 1
            counters.success_ns += elapsed_ns
            counters.items += items
            counters.queue_ns += phases.queue
            counters.input_ns += phases.compute_input
            counters.infer_ns += phases.compute_infer
            counters.output_ns += phases.compute_output
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
        infer.queue.count, infer.queue.ns = c.success, c.queue_ns
        infer.compute_input.count, infer.compute_input.ns = c.success, c.input_ns
        infer.compute_infer.count, infer.compute_infer.ns = c.success, c.infer_ns
        infer.compute_output.count, infer.compute_output.ns = c.success, c.output_ns
        if engine is not None:
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
