"""Checks a model version must pass before it serves: file hashes and graph signatures."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from seqserve.v1 import seqserve_pb2 as pb

# Per serving kind: graph role -> (input count, output count).
ROLES: dict[int, dict[int, tuple[int, int]]] = {
    pb.SERVING_KIND_CLASSIFY: {pb.GRAPH_ROLE_MODEL: (1, 1)},
    pb.SERVING_KIND_TAG: {pb.GRAPH_ROLE_MODEL: (1, 1)},
    pb.SERVING_KIND_FIXED_SEQ2SEQ: {pb.GRAPH_ROLE_MODEL: (1, 1)},
    pb.SERVING_KIND_REGRESS: {pb.GRAPH_ROLE_MODEL: (1, 1)},
    pb.SERVING_KIND_SEQ2SEQ: {pb.GRAPH_ROLE_ENCODER: (1, 2), pb.GRAPH_ROLE_DECODER_STEP: (3, 3)},
    pb.SERVING_KIND_STATEFUL_STEP: {pb.GRAPH_ROLE_STEP: (3, 3)},
}
# Graphs a kind may also carry: a seq2seq model's whole greedy decode in one graph.
OPTIONAL: dict[int, dict[int, tuple[int, int]]] = {
    pb.SERVING_KIND_SEQ2SEQ: {pb.GRAPH_ROLE_GREEDY: (1, 2)},
}
# Manifest dtype -> onnxruntime's name of the tensor type.
DTYPES = {"float32": "tensor(float)", "int64": "tensor(int64)"}


class LoadError(Exception):
    """Why a model version cannot serve; shown in the log and in ListModels."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_manifest(info: pb.ModelInfo, name: str, version: int) -> dict[int, pb.GraphFile]:
    """The manifest matches its model folder and names the graphs its kind needs; returns them
    by role. The version folder names the version (`load_version` sets it in `info`)."""
    if info.name != name:
        raise LoadError(f"manifest name {info.name!r} does not match folder {name!r}")
    if info.kind not in ROLES:
        raise LoadError(f"unsupported serving kind {pb.ServingKind.Name(info.kind)}")
    graphs = {g.role: g for g in info.graphs}
    needed, optional = ROLES[info.kind], OPTIONAL.get(info.kind, {})
    if not set(needed) <= set(graphs) <= set(needed) | set(optional):
        want = ", ".join(pb.GraphRole.Name(r) for r in needed)
        extra = ", ".join(pb.GraphRole.Name(r) for r in optional)
        raise LoadError(
            f"{pb.ServingKind.Name(info.kind)} needs graphs {want}"
            + (f" (and may have {extra})" if extra else "")
        )
    for role, graph in graphs.items():
        n_in, n_out = (needed | optional)[role]
        if len(graph.inputs) != n_in or len(graph.outputs) != n_out:
            raise LoadError(f"{graph.file}: expected {n_in} inputs and {n_out} outputs")
    greedy = graphs.get(pb.GRAPH_ROLE_GREEDY)
    if greedy is not None:
        length, steps = int(info.input.length), int(info.decode.steps)
        tensors = [("int64", [-1, length]), ("int64", [-1, steps]), ("float32", [-1, steps])]
        declared = [(t.dtype, list(t.shape)) for t in (*greedy.inputs, *greedy.outputs)]
        if declared != tensors:  # ids -> (symbols, confidence)
            raise LoadError(
                f"{greedy.file}: tensors {declared}, expected {tensors} (ids -> symbols)"
            )
    stateful = info.kind in (pb.SERVING_KIND_SEQ2SEQ, pb.SERVING_KIND_STATEFUL_STEP)
    if stateful and info.decode.state_size <= 0:
        raise LoadError("decode.state_size must be positive")
    if info.kind == pb.SERVING_KIND_SEQ2SEQ and info.decode.steps <= 0:
        raise LoadError("decode.steps must be positive")
    return graphs


def verify_file(folder: Path, graph: pb.GraphFile) -> Path:
    """The graph file exists, stays inside the folder, and its SHA-256 matches the manifest."""
    path = (folder / graph.file).resolve()
    if folder.resolve() not in path.parents:
        raise LoadError(f"graph file {graph.file!r} is outside the model folder")
    if not path.is_file():
        raise LoadError(f"graph file {graph.file} is missing")
    actual = sha256_of(path)
    if actual != graph.sha256.lower():
        raise LoadError(
            f"{graph.file}: SHA-256 {actual[:12]}... does not match the manifest's "
            f"{graph.sha256[:12]}... (file changed or corrupted)"
        )
    return path


def check_signature(graph: pb.GraphFile, session: Any) -> None:
    """The onnxruntime graph's inputs/outputs agree with the manifest: names, types, ranks."""
    for side, declared, actual in (
        ("input", graph.inputs, session.get_inputs()),
        ("output", graph.outputs, session.get_outputs()),
    ):
        if [t.name for t in declared] != [a.name for a in actual]:
            raise LoadError(
                f"{graph.file}: {side}s {[a.name for a in actual]} differ from the manifest's "
                f"{[t.name for t in declared]}"
            )
        for spec, arg in zip(declared, actual, strict=True):
            _check_tensor(graph.file, spec, arg)


def _check_tensor(file: str, spec: pb.TensorSpec, arg: Any) -> None:
    if DTYPES.get(spec.dtype) != arg.type:
        raise LoadError(
            f"{file}: {arg.name} is {arg.type}, manifest {spec.dtype!r}; "
            f"allowed: {', '.join(f'{k} ({v})' for k, v in DTYPES.items())}"
        )
    shape = list(arg.shape)
    if len(shape) != len(spec.shape):
        raise LoadError(f"{file}: {arg.name} has rank {len(shape)}, manifest {len(spec.shape)}")
    for dim, want in zip(shape[1:], spec.shape[1:], strict=True):
        if isinstance(dim, int) and want > 0 and dim != want:
            raise LoadError(f"{file}: {arg.name} shape {shape} differs from manifest {spec.shape}")
