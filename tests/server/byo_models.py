"""Sequence models nobody on the project trained, written with `onnx.helper`, and their
hand-written manifests: what a user bringing their own encoder-decoder or step model does.

`countdown` (seq2seq, one state tensor, an end symbol): the encoder keeps the one-hot of the
source's first symbol `k` as its state; each decoder step shifts the state down one symbol
and chooses it, so the answer is `k-1, k-2, ..., 1`, ended by the end symbol 0 (not part of
the answer) or by `decode.steps`. Answers of one batch differ in length.

`previous` (stateful_step, state h and c): each step answers the symbol fed one step
before (0 at the first step); h holds the one-hot of the fed symbol, c counts the symbols.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from seqserve.contract.manifest import write_manifest
from seqserve.server.repository.checks import sha256_of
from seqserve.v1 import seqserve_pb2 as pb

VOCABULARY = 6  # countdown symbols 0-5; 0 ends a sequence
LENGTH = 4  # countdown source length
STEPS = 3  # countdown: at most this many symbols
END = 0
SYMBOLS = 5  # previous: symbols 0-4


def countdown_answer(source: list[int], steps: int = STEPS) -> list[int]:
    """What `countdown` answers, worked out by hand."""
    return list(range(source[0] - 1, 0, -1))[:steps]


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    out.ir_version = 8
    return out


def _floats(name: str, *shape: int | str) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def countdown_graphs(state: int = VOCABULARY) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """(encoder, step decoder); `state`: the decoder's state width (the encoder's is 6)."""
    first = numpy_helper.from_array(np.array(0, np.int64), "first")
    encoder = helper.make_graph(
        [helper.make_node("Gather", ["source", "first"], ["memory"], axis=1)],
        "countdown_encoder",
        [_floats("source", "batch", LENGTH, VOCABULARY)],
        [_floats("memory", "batch", VOCABULARY)],
        initializer=[first],
    )
    down = np.eye(state, k=-1, dtype=np.float32)  # onehot(k) @ down = onehot(k-1)
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    decoder = helper.make_graph(
        [
            helper.make_node("MatMul", ["memory_in", "down"], ["memory_out"]),
            helper.make_node("Mul", ["token", "zero"], ["ignored"]),  # the fed symbol
            helper.make_node("Add", ["memory_out", "ignored"], ["scores"]),
        ],
        "countdown_decoder",
        [_floats("token", "batch", VOCABULARY), _floats("memory_in", "batch", state)],
        [_floats("scores", "batch", VOCABULARY), _floats("memory_out", "batch", state)],
        initializer=[numpy_helper.from_array(down, "down"), zero],
    )
    return _model(encoder), _model(decoder)


def previous_graph() -> onnx.ModelProto:
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    graph = helper.make_graph(
        [
            helper.make_node("Identity", ["h"], ["probs"]),
            helper.make_node("Mul", ["x", "one"], ["h_next"]),
            helper.make_node("Add", ["c", "x"], ["c_next"]),
        ],
        "previous_step",
        [
            _floats("x", "batch", SYMBOLS),
            _floats("h", "batch", SYMBOLS),
            _floats("c", "batch", SYMBOLS),
        ],
        [
            _floats("probs", "batch", SYMBOLS),
            _floats("h_next", "batch", SYMBOLS),
            _floats("c_next", "batch", SYMBOLS),
        ],
        initializer=[one],
    )
    return _model(graph)


def _graph_file(folder: Path, role: int, file: str, graph: onnx.ModelProto) -> pb.GraphFile:
    onnx.save_model(graph, folder / file)
    spec = pb.GraphFile(role=role, file=file, sha256=sha256_of(folder / file))
    for side, values in ((spec.inputs, graph.graph.input), (spec.outputs, graph.graph.output)):
        for value in values:
            dims = [d.dim_value or -1 for d in value.type.tensor_type.shape.dim]
            side.add(name=value.name, dtype="float32", shape=dims)
    return spec


def write_countdown(
    folder: Path,
    name: str = "countdown",
    version: int = 1,
    *,
    state: int = VOCABULARY,
    **decode: int,
) -> pb.ModelInfo:
    """The countdown model's graphs and manifest in `folder`; `decode` overrides the loop."""
    folder.mkdir(parents=True, exist_ok=True)
    encoder, decoder = countdown_graphs(state)
    info = pb.ModelInfo(
        name=name,
        version=version,
        task="Count down from the first symbol to 1 (ends at symbol 0).",
        kind=pb.SERVING_KIND_SEQ2SEQ,
        input=pb.SequenceSpec(
            kind=pb.DATA_KIND_INTS,
            length=LENGTH,
            min_value=1,
            max_value=VOCABULARY - 1,
            cardinality=VOCABULARY,
            encoding=pb.ENCODING_ONEHOT,
        ),
        output=pb.SequenceSpec(
            kind=pb.DATA_KIND_INTS,
            length=STEPS,
            max_value=VOCABULARY - 1,
            cardinality=VOCABULARY,
            encoding=pb.ENCODING_ONEHOT,
        ),
        decode=pb.DecodeSpec(start_symbol=END, steps=STEPS, state_size=VOCABULARY, end_symbol=END),
        graphs=[
            _graph_file(folder, pb.GRAPH_ROLE_ENCODER, "encoder.onnx", encoder),
            _graph_file(folder, pb.GRAPH_ROLE_DECODER_STEP, "decoder_step.onnx", decoder),
        ],
    )
    for key, value in decode.items():
        setattr(info.decode, key, value)
    write_manifest(folder, info)
    return info


def write_previous(folder: Path, name: str = "previous", version: int = 1) -> pb.ModelInfo:
    folder.mkdir(parents=True, exist_ok=True)
    spec = pb.SequenceSpec(
        kind=pb.DATA_KIND_INTS,
        length=1,
        max_value=SYMBOLS - 1,
        cardinality=SYMBOLS,
        encoding=pb.ENCODING_ONEHOT,
    )
    info = pb.ModelInfo(
        name=name,
        version=version,
        task="Answer the symbol fed one step before.",
        kind=pb.SERVING_KIND_STATEFUL_STEP,
        input=spec,
        output=spec,
        decode=pb.DecodeSpec(state_size=SYMBOLS),
        graphs=[_graph_file(folder, pb.GRAPH_ROLE_STEP, "step.onnx", previous_graph())],
    )
    write_manifest(folder, info)
    return info
