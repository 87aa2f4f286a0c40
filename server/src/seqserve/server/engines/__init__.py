"""Engines, one per serving kind, built from a model's manifest (never from its name)."""

from __future__ import annotations

from typing import Any

from seqserve.server.engines.base import Engine
from seqserve.server.engines.graph import GraphEngine
from seqserve.server.engines.seq2seq import Seq2SeqEngine
from seqserve.server.engines.step import StepEngine, StepInput, StepOutput
from seqserve.server.settings import Settings
from seqserve.v1 import seqserve_pb2 as pb

__all__ = [
    "Engine",
    "GraphEngine",
    "Seq2SeqEngine",
    "StepEngine",
    "StepInput",
    "StepOutput",
    "build_engine",
]


def build_engine(info: pb.ModelInfo, graphs: dict[int, Any], settings: Settings) -> Engine:
    """The engine for the manifest's serving kind; `graphs` maps role -> onnxruntime session."""
    if info.kind == pb.SERVING_KIND_SEQ2SEQ:
        return Seq2SeqEngine(
            info,
            graphs[pb.GRAPH_ROLE_ENCODER],
            graphs[pb.GRAPH_ROLE_DECODER_STEP],
            settings,
            greedy=graphs.get(pb.GRAPH_ROLE_GREEDY),
        )
    if info.kind == pb.SERVING_KIND_STATEFUL_STEP:
        return StepEngine(info, graphs[pb.GRAPH_ROLE_STEP], settings)
    return GraphEngine(info, graphs[pb.GRAPH_ROLE_MODEL], settings)
