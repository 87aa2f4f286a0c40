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
    """Why a model version cannot serve, shown in ListModels; `detail` (onnxruntime's own
    words, file paths) goes to the server log only."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason if not detail else f"{reason} (details in the server log)")
        self.detailed = reason if not detail else f"{reason}: {detail}"


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
    _check_ranges(info)
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


# Bounds on manifest numbers: a manifest past them is a mistake (or an attack), and would
# make the server allocate per its numbers before any graph check could refuse it.
MAX_LENGTH = 1 << 16  # positions of an input or output, decode steps
MAX_WIDTH = 1 << 16  # one-hot cardinality, state size, tensor dimensions


def _check_ranges(info: pb.ModelInfo) -> None:
    """Every size in the manifest is in range before anything is sized by it. A tensor
    model's graph tensors may have any shape whose dimensions are -1 or 1-`MAX_WIDTH`."""
    tensor_kind = info.kind == pb.SERVING_KIND_TENSOR
    for side, spec in () if tensor_kind else (("input", info.input), ("output", info.output)):
        if not 1 <= spec.length <= MAX_LENGTH:
            raise LoadError(f"{side}.length must be 1-{MAX_LENGTH}; got {spec.length}")
        if not 0 <= spec.cardinality <= MAX_WIDTH:
            raise LoadError(f"{side}.cardinality must be 0-{MAX_WIDTH}; got {spec.cardinality}")
        if spec.min_value > spec.max_value:
            raise LoadError(f"{side}.min_value is above {side}.max_value")
    if not 0 <= info.decode.steps <= MAX_LENGTH:
        raise LoadError(f"decode.steps must be 0-{MAX_LENGTH}; got {info.decode.steps}")
    if not 0 <= info.decode.state_size <= MAX_WIDTH:
        raise LoadError(f"decode.state_size must be 0-{MAX_WIDTH}; got {info.decode.state_size}")
    for graph in info.graphs:
        for tensor in (*graph.inputs, *graph.outputs):
            shape = list(tensor.shape)
            if tensor_kind:
                if not all(d == -1 or 1 <= d <= MAX_WIDTH for d in shape):
                    raise LoadError(
                        f"{graph.file}: {tensor.name} shape {shape}: each dimension is -1 "
                        f"(any size) or 1-{MAX_WIDTH}"
                    )
            elif not shape or shape[0] != -1 or not all(1 <= d <= MAX_WIDTH for d in shape[1:]):
                raise LoadError(
                    f"{graph.file}: {tensor.name} shape {shape}: the first dimension is -1 "
                    f"(the batch), the others 1-{MAX_WIDTH}"
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


def check_no_external_data(path: Path, name: str | None = None) -> None:
    """The ONNX graph at `path` keeps every tensor inside itself.

    A tensor stored in an external data file would be read by onnxruntime from beside the
    graph, outside the manifest's SHA-256: changed weights would load while the hash still
    verified. Such graphs are refused (`LoadError`); save them with the tensors inside.
    Walks every tensor the model holds: initializers, sparse initializers, node attributes,
    and the subgraphs of control-flow nodes and functions.
    """
    label = name or path.name
    try:
        found = _external_tensor(memoryview(path.read_bytes()), _MODEL)
    except (OSError, ValueError) as exc:
        raise LoadError(f"{label}: not a readable ONNX model", str(exc)) from exc
    if found is not None:
        raise LoadError(
            f"{label}: tensor {found!r} is stored in an external data file, which the "
            "manifest's SHA-256 does not cover; save the graph with its tensors inside"
        )


# The ONNX protobuf messages that can hold tensors: field number -> the message it holds
# ("tensor" for a TensorProto). Everything else in a model is skipped unread.
_MODEL, _GRAPH, _NODE, _ATTRIBUTE, _SPARSE, _FUNCTION, _TRAINING = range(7)
_TENSOR = -1
_HOLDS: dict[int, dict[int, int]] = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},
    _TRAINING: {1: _GRAPH, 2: _GRAPH},
    _FUNCTION: {7: _NODE},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTRIBUTE},
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
}
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


def _external_tensor(data: memoryview, kind: int, depth: int = 0) -> str | None:
    """The name of the first tensor stored externally within `data` (a `kind` message)."""
    if depth > 64:
        raise ValueError("subgraphs nested too deeply")
    if kind == _TENSOR:
        name, external = "", False
        for number, value in _fields(data):
            if number == _TENSOR_NAME and isinstance(value, memoryview):
                name = bytes(value).decode("utf-8", "replace")
            external |= number == _TENSOR_EXTERNAL_DATA
            external |= number == _TENSOR_DATA_LOCATION and value == _EXTERNAL
        return (name or "(unnamed)") if external else None
    holds = _HOLDS[kind]
    for number, value in _fields(data):
        inner = holds.get(number)
        if inner is not None and isinstance(value, memoryview):
            found = _external_tensor(value, inner, depth + 1)
            if found is not None:
                return found
    return None


def _fields(data: memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """(field number, value) of each field of a protobuf message: varints as ints,
    length-delimited fields as views (not copied), fixed-width fields skipped."""
    offset, end = 0, len(data)
    while offset < end:
        key, offset = _varint(data, offset)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, offset = _varint(data, offset)
            yield number, value
        elif wire == 2:
            size, offset = _varint(data, offset)
            if offset + size > end:
                raise ValueError("a field runs past the end of its message")
            yield number, data[offset : offset + size]
            offset += size
        elif wire in (1, 5):
            offset += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _varint(data: memoryview, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if offset >= len(data) or shift > 63:
            raise ValueError("truncated or oversized varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


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
