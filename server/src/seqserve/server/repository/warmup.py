"""The inputs of a tensor model's warm-up runs, from its manifest's `serving.warmup`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqserve.server import dtypes
from seqserve.server.engines.tensor import Arrays
from seqserve.server.repository.checks import LoadError
from seqserve.v1 import seqserve_pb2 as pb


def warmup_inputs(info: pb.ModelInfo, folder: Path) -> Arrays:
    """The manifest's `serving.warmup` tensors (a .npy file or zeros of a shape); zeros with
    1 for each free dimension for any input it leaves out."""
    graph = info.graphs[0]
    given = {w.name: w for w in info.serving.warmup}
    specs = {spec.name: spec for spec in graph.inputs}
    unknown = set(given) - set(specs)
    if unknown:
        raise LoadError(
            f"serving.warmup names {', '.join(sorted(unknown))}, not inputs of the graph "
            f"(inputs: {', '.join(specs)})"
        )
    out: Arrays = {}
    for name, spec in specs.items():
        dtype = dtypes.numpy_type(spec.dtype)
        warm = given.get(name)
        shape = tuple(d if d > 0 else 1 for d in spec.shape)
        if warm is not None and warm.file:
            out[name] = _load_npy(folder, warm.file, spec)
            continue
        if warm is not None and warm.shape:
            shape = tuple(int(d) for d in warm.shape)
        fill: object = "" if spec.dtype == "string" else 0
        out[name] = np.full(shape, fill, dtype=dtype)
    return out


def _load_npy(folder: Path, file: str, spec: pb.TensorSpec) -> np.ndarray:
    path = (folder / file).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        raise LoadError(f"serving.warmup file {file!r} is not a file in the version folder")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise LoadError(f"serving.warmup file {file}: not a NumPy .npy file ({exc})") from exc
    target = np.dtype(object) if spec.dtype == "string" else dtypes.numpy_type(spec.dtype)
    out: np.ndarray = (array.astype(str) if target.kind == "O" else array).astype(target)
    return out
