"""Engines, one per serving kind, built from a model's manifest (never from its name)."""

from __future__ import annotations

from typing import Any

from seqserve.server.engines.base import Engine
from seqserve.server.engines.graph import GraphEngine
from seqserve.server.engines.seq2seq import Seq2SeqEngine
from seqserve.server.engines.step import StepEngine, StepInput, StepOutput
from seqserve.server.engines.tensor import Arrays, TensorEngine
from seqserve.server.execution.capacity import Capacity
from seqserve.server.totals import ModelTotals
from seqserve.v1 import seqserve_pb2 as pb

__all__ = [
    "Arrays",
    "Engine",
    "GraphEngine",
    "Seq2SeqEngine",
    "StepEngine",
    "StepInput",
    "StepOutput",
    "TensorEngine",
    "build_engine",
]


def build_engine(
    info: pb.ModelInfo,
    graphs: dict[int, Any],
    capacity: Capacity,
    totals: ModelTotals,
    warmup: Arrays | None = None,
) -> Engine:
    """The engine for the manifest's serving kind; `graphs` maps role -> onnxruntime session,
    `totals` are the model's counters its calls add to; `warmup`: a tensor model's warm-up
    inputs."""
    if info.kind == pb.SERVING_KIND_SEQ2SEQ:
        return Seq2SeqEngine(
            info,
            graphs[pb.GRAPH_ROLE_ENCODER],
            graphs[pb.GRAPH_ROLE_DECODER_STEP],
            capacity,
            totals,
            greedy=graphs.get(pb.GRAPH_ROLE_GREEDY),
        )
    if info.kind == pb.SERVING_KIND_TENSOR:
        return TensorEngine(info, graphs[pb.GRAPH_ROLE_MODEL], capacity, totals, warmup or {})
    if info.kind == pb.SERVING_KIND_STATEFUL_STEP:
        return StepEngine(info, graphs[pb.GRAPH_ROLE_STEP], capacity, totals)
    return GraphEngine(info, graphs[pb.GRAPH_ROLE_MODEL], capacity, totals)
