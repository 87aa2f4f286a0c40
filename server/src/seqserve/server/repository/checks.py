"""Checks a model version must pass before it serves: file hashes, self-contained graph
files and graph signatures."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqserve.server import dtypes
from seqserve.v1 import seqserve_pb2 as pb

ANY = 0  # a tensor model's graph has any number (at least one) of inputs and outputs
# Per serving kind: graph role -> (input count, output count).
ROLES: dict[int, dict[int, tuple[int, int]]] = {
    pb.SERVING_KIND_CLASSIFY: {pb.GRAPH_ROLE_MODEL: (1, 1)},
    pb.SERVING_KIND_TAG: {pb.GRAPH_ROLE_MODEL: (1, 1)},
    pb.SERVING_KIND_FIXED_SEQ2SEQ: {pb.GRAPH_ROLE_MODEL: (1, 1)},
    pb.SERVING_KIND_REGRESS: {pb.GRAPH_ROLE_MODEL: (1, 1)},
    # the encoder returns the state tensors; the decoder takes (symbol, *state) and returns
    # (probs, *state): counts checked in _check_decode_graphs
    pb.SERVING_KIND_SEQ2SEQ: {
        pb.GRAPH_ROLE_ENCODER: (1, ANY),
        pb.GRAPH_ROLE_DECODER_STEP: (ANY, ANY),
    },
    pb.SERVING_KIND_STATEFUL_STEP: {pb.GRAPH_ROLE_STEP: (3, 3)},
    pb.SERVING_KIND_TENSOR: {pb.GRAPH_ROLE_MODEL: (ANY, ANY)},
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
    """The manifest matches its folder and names the graphs its kind needs; returns them by role."""
    if info.name != name:
        raise LoadError(f"manifest name {info.name!r} does not match folder {name!r}")
    if info.version != version:
        raise LoadError(f"manifest version {info.version} does not match folder {version}")
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
        if info.kind == pb.SERVING_KIND_TENSOR:
            _check_tensor_specs(graph)
        elif _count_differs(n_in, len(graph.inputs)) or _count_differs(n_out, len(graph.outputs)):
            ins, outs = (str(n) if n != ANY else "any number of" for n in (n_in, n_out))
            raise LoadError(f"{graph.file}: expected {ins} inputs and {outs} outputs")
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
    if info.kind == pb.SERVING_KIND_SEQ2SEQ:
        _check_decode_graphs(info, graphs)
    return graphs


def _count_differs(want: int, have: int) -> bool:
    return want != ANY and want != have


def _check_decode_graphs(info: pb.ModelInfo, graphs: dict[int, pb.GraphFile]) -> None:
    """The encoder's outputs are the state; the step decoder takes the fed symbol and that
    state and returns the probabilities and the new state: each state tensor
    `[-1, decode.state_size]`, the symbol and the probabilities `[-1, vocabulary]`."""
    enc, dec = graphs[pb.GRAPH_ROLE_ENCODER], graphs[pb.GRAPH_ROLE_DECODER_STEP]
    count = len(enc.outputs)
    if count == 0 or len(dec.inputs) != 1 + count or len(dec.outputs) != 1 + count:
        raise LoadError(
            f"{enc.file} returns {count} state tensors, so {dec.file} needs {1 + count} inputs "
            f"(symbol, then the state) and {1 + count} outputs (probabilities, then the new "
            f"state); it has {len(dec.inputs)} and {len(dec.outputs)}"
        )
    size = int(info.decode.state_size)
    states = [(enc.file, t) for t in enc.outputs]
    states += [(dec.file, t) for t in (*dec.inputs[1:], *dec.outputs[1:])]
    for file, spec in states:
        if list(spec.shape) != [-1, size]:
            shapes = ", ".join(f"{t.name} {list(t.shape)}" for _, t in states)
            raise LoadError(
                f"state shapes disagree: {file}: {spec.name} is {list(spec.shape)}, every state "
                f"tensor must be [-1, decode.state_size={size}] ({shapes})"
            )
    symbol, probs = dec.inputs[0], dec.outputs[0]
    if len(symbol.shape) != 2 or list(symbol.shape) != list(probs.shape):
        raise LoadError(
            f"{dec.file}: the symbol input {symbol.name} {list(symbol.shape)} and the "
            f"probabilities {probs.name} {list(probs.shape)} must both be [-1, vocabulary]"
        )
    vocabulary = int(symbol.shape[1])
    named = {"start_symbol": info.decode.start_symbol}
    if info.decode.HasField("end_symbol"):
        named["end_symbol"] = info.decode.end_symbol
    for field, value in named.items():
        if not 0 <= value < vocabulary:
            raise LoadError(
                f"decode.{field} {value} is not a symbol of the decoder (0-{vocabulary - 1})"
            )


def _check_tensor_specs(graph: pb.GraphFile) -> None:
    if not graph.inputs or not graph.outputs:
        raise LoadError(f"{graph.file}: a tensor model needs at least one input and one output")
    names = [t.name for t in (*graph.inputs, *graph.outputs)]
    for spec in (*graph.inputs, *graph.outputs):
        if names.count(spec.name) > 1:
            raise LoadError(f"{graph.file}: tensor name {spec.name!r} is used twice")
        if spec.dtype not in dtypes.TYPES:
            raise LoadError(
                f"{graph.file}: {spec.name} has dtype {spec.dtype!r}; allowed: {dtypes.allowed()}"
            )
        if any(d < -1 or d == 0 for d in spec.shape):
            raise LoadError(
                f"{graph.file}: {spec.name} shape {list(spec.shape)}: each dimension is a "
                "positive size or -1 (any size)"
            )


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


def check_signature(graph: pb.GraphFile, session: Any, tensor: bool = False) -> None:
    """The onnxruntime graph's inputs/outputs agree with the manifest: names, types, ranks.
    `tensor` (tensor models): every element type of the table, and every dimension."""
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
            if tensor:
                _check_any_tensor(graph.file, spec, arg)
            else:
                _check_tensor(graph.file, spec, arg)


def _check_any_tensor(file: str, spec: pb.TensorSpec, arg: Any) -> None:
    if dtypes.onnxruntime_type(spec.dtype) != arg.type:
        raise LoadError(f"{file}: {arg.name} is {arg.type}, manifest {spec.dtype!r}")
    shape = [d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape]
    if len(shape) != len(spec.shape):
        raise LoadError(f"{file}: {arg.name} has rank {len(shape)}, manifest {len(spec.shape)}")
    for dim, want in zip(shape, spec.shape, strict=True):
        if dim != -1 and want != dim:  # the manifest may fix a free dimension, not free a fixed one
            raise LoadError(
                f"{file}: {arg.name} shape {shape} (-1: any size) differs from the manifest's "
                f"{list(spec.shape)}"
            )


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


# ------------------------------------------------------------------ external data
# Field numbers of onnx.proto3 that lead to tensors: ModelProto.graph and .functions,
# GraphProto.node / .initializer / .sparse_initializer, NodeProto.attribute, AttributeProto
# .t / .g / .tensors / .graphs / .sparse_tensor(s), FunctionProto.node, SparseTensorProto
# .values / .indices; TensorProto.name, .external_data and .data_location (1: EXTERNAL).
_MODEL = {7: "graph", 25: "function"}
_GRAPH = {1: "node", 5: "tensor", 15: "sparse"}
_NODE = {5: "attribute"}
_ATTRIBUTE = {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"}
_FUNCTION = {7: "node"}
_SPARSE = {1: "tensor", 2: "tensor"}
_KINDS = {
    "graph": _GRAPH,
    "function": _FUNCTION,
    "node": _NODE,
    "attribute": _ATTRIBUTE,
    "sparse": _SPARSE,
}


def check_self_contained(path: Path) -> None:
    """The ONNX file holds all its weights: a graph reading external data files is refused
    (the data would be loaded from outside the checked, hashed version folder)."""
    try:
        name = _external(memoryview(path.read_bytes()), _MODEL)
    except (IndexError, ValueError):
        return  # not a well-formed protobuf: onnxruntime reports it when it loads the file
    if name is not None:
        raise LoadError(
            f"{path.name}: tensor {name!r} reads external data; serve graphs that hold their "
            "weights (onnx.save_model(model, path, save_as_external_data=False))"
        )


def _external(data: memoryview, fields: dict[int, str]) -> str | None:
    for number, value in _fields(data):
        kind = fields.get(number)
        if kind is None or isinstance(value, int):
            continue
        found = _tensor_external(value) if kind == "tensor" else _external(value, _KINDS[kind])
        if found is not None:
            return found
    return None


def _tensor_external(data: memoryview) -> str | None:
    name, external = "", False
    for number, value in _fields(data):
        if number == 8 and not isinstance(value, int):
            name = bytes(value).decode("utf-8", "replace")
        elif number == 13 or (number == 14 and value == 1):
            external = True
    return (name or "(unnamed)") if external else None


def _fields(data: memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """(field number, varint or length-delimited bytes) of one protobuf message."""
    offset = 0
    while offset < len(data):
        key, offset = _varint(data, offset)
        wire = key & 7
        if wire == 0:
            value, offset = _varint(data, offset)
            yield key >> 3, value
        elif wire == 2:
            size, offset = _varint(data, offset)
            if offset + size > len(data):
                raise ValueError("truncated field")
            yield key >> 3, data[offset : offset + size]
            offset += size
        elif wire in (1, 5):
            offset += 8 if wire == 1 else 4
        else:
            raise ValueError(f"wire type {wire}")


def _varint(data: memoryview, offset: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7
