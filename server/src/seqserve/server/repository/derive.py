"""A manifest derived from an ONNX graph, for a version folder that holds only `model.onnx`.

The graph's inputs and outputs (names, element types, shapes: a symbolic or unknown
dimension becomes -1) make a `SERVING_KIND_TENSOR` manifest; the file's SHA-256 is
computed from the file as it is now, so nothing is pinned until the manifest is written
to `model.json` (`seqserve-server manifest PATH`) and reviewed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort

from seqserve.server import dtypes
from seqserve.server.repository.checks import LoadError, sha256_of
from seqserve.v1 import seqserve_pb2 as pb

GRAPH = "model.onnx"


def derive_manifest(folder: Path, name: str, version: int, session: Any = None) -> pb.ModelInfo:
    """The tensor manifest of `folder/model.onnx`; `session` (onnxruntime) if already made."""
    path = folder / GRAPH
    if not path.is_file():
        raise LoadError(f"no model.json, and no {GRAPH} to derive one from")
    if session is None:
        try:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # not an ONNX graph onnxruntime can load
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
            raise LoadError(f"{GRAPH}: onnxruntime cannot load it: {first}") from exc
    graph = pb.GraphFile(
        role=pb.GRAPH_ROLE_MODEL,
        file=GRAPH,
        sha256=sha256_of(path),
        size_bytes=path.stat().st_size,
        inputs=[_spec(arg) for arg in session.get_inputs()],
        outputs=[_spec(arg) for arg in session.get_outputs()],
    )
    return pb.ModelInfo(
        name=name,
        version=version,
        task=f"ONNX graph {GRAPH}: tensors in, tensors out",
        kind=pb.SERVING_KIND_TENSOR,
        graphs=[graph],
        derived=True,
    )


def _spec(arg: Any) -> pb.TensorSpec:
    dtype = dtypes.from_onnxruntime(arg.type)
    if dtype is None:
        raise LoadError(f"{GRAPH}: {arg.name} is {arg.type}; tensor models take {dtypes.allowed()}")
    shape = [d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape]
    return pb.TensorSpec(name=arg.name, dtype=dtype, shape=shape)
