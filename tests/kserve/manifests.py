"""Manifests of the eight models as the trainer describes them (no exported files needed)."""

from __future__ import annotations

from seqserve.trainer import catalog
from seqserve.v1 import seqserve_pb2 as pb


def info(name: str) -> pb.ModelInfo:
    model = catalog.BY_NAME[name]
    return pb.ModelInfo(
        name=model.name,
        version=1,
        kind=model.kind,  # type: ignore[arg-type]
        input=model.input,
        output=model.output,
        decode=model.decode,
    )


NAMES = [model.name for model in catalog.MODELS]
