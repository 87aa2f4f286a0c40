"""The whole greedy decode of a seq2seq model as one ONNX graph, composed from its exported
encoder and step-decoder graphs.

``greedy.onnx``: source ids ``[n, L]`` (int64) -> the chosen symbols ``[n, T]`` (int64) and
their probabilities ``[n, T]``. Inside: the source is one-hot encoded, the encoder runs once,
then ``decode.steps`` copies of the decoder step run in a chain, each fed ``onehot(argmax)`` of
the previous step (the first ``onehot(start_symbol)``), exactly the loop of
``inference.greedy_decode``. The copies share the decoder's weights. A server answers a small
request with one onnxruntime call instead of ``1 + steps``; ``check`` proves the graph agrees
with the step-by-step loop before it is published.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from seqserve.trainer import inference, repository
from seqserve.trainer.parity import TOLERANCE, ParityError
from seqserve.v1 import seqserve_pb2 as pb

FILE = "greedy.onnx"
IDS, SYMBOLS, CONFIDENCE = "ids", "symbols", "confidence"


class _Builder:
    """Nodes and initializers of the composed graph, with every name made unique."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers[name] = numpy_helper.from_array(value, name)
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def inline(
        self, graph: onnx.GraphProto, scope: str, weights: str, bind: dict[str, str]
    ) -> dict[str, str]:
        """Copy `graph`'s nodes with values renamed under `scope` and initializers under
        `weights` (copies sharing `weights` share them); its inputs read the names in `bind`.
        Returns its outputs' new names, by old name."""
        for node in graph.node:  # a subgraph's references to outer names would not follow
            if any(
                a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                for a in node.attribute
            ):
                raise ValueError(f"{graph.name}: {node.op_type} has a subgraph; cannot inline")
        constants = {t.name for t in graph.initializer}

        def rename(name: str) -> str:
            if not name:  # an optional input left out
                return name
            if name in bind:
                return bind[name]
            return f"{weights}/{name}" if name in constants else f"{scope}/{name}"

        for tensor in graph.initializer:
            if rename(tensor.name) not in self.initializers:
                shared = onnx.TensorProto()
                shared.CopyFrom(tensor)
                shared.name = rename(tensor.name)
                self.initializers[shared.name] = shared
        for node in graph.node:
            step = onnx.NodeProto()
            step.CopyFrom(node)
            step.name = f"{scope}/{node.name}"
            step.input[:] = [rename(x) for x in node.input]
            step.output[:] = [rename(x) for x in node.output]
            self.nodes.append(step)
        return {o.name: rename(o.name) for o in graph.output}


def compose(info: pb.ModelInfo, folder: Path) -> pb.GraphFile:
    """Write ``greedy.onnx`` for the seq2seq model whose graphs are in ``folder``."""
    graphs = {g.role: g for g in info.graphs}
    enc, dec = graphs[pb.GRAPH_ROLE_ENCODER], graphs[pb.GRAPH_ROLE_DECODER_STEP]
    encoder = onnx.load(folder / enc.file)
    decoder = onnx.load(folder / dec.file)
    opset = next(o.version for o in encoder.opset_import if o.domain in ("", "ai.onnx"))
    length, source_width = int(enc.inputs[0].shape[1]), int(enc.inputs[0].shape[2])
    vocabulary, steps = int(dec.inputs[0].shape[1]), int(info.decode.steps)

    b = _Builder()
    off_on = b.constant("off_on", np.array([0.0, 1.0], np.float32))
    source = b.node(
        "OneHot",
        [IDS, b.constant("source_width", np.array(source_width)), off_on],
        "source",
        axis=-1,
    )
    state = b.inline(encoder.graph, "encoder", "encoder", {enc.inputs[0].name: source})
    h, c = (state[t.name] for t in enc.outputs)
    depth = b.constant("vocabulary", np.array(vocabulary))
    start = np.zeros((1, vocabulary), np.float32)
    start[0, info.decode.start_symbol] = 1.0
    rows = b.node("Shape", [IDS], "rows", end=1)
    width = b.node(
        "Concat", [rows, b.constant("width", np.array([vocabulary]))], "fed_shape", axis=0
    )
    fed = b.node("Expand", [b.constant("start", start), width], "fed_0")
    flat = b.constant("flat", np.array([-1], np.int64))
    chosen, confidence = [], []
    for step in range(steps):
        bind = dict(zip([t.name for t in dec.inputs], (fed, h, c), strict=True))
        out = b.inline(decoder.graph, f"step_{step}", "decoder", bind)
        probs, h, c = (out[t.name] for t in dec.outputs)
        chosen.append(b.node("ArgMax", [probs], f"symbol_{step}", axis=1, keepdims=1))
        if opset >= 18:  # ReduceMax takes its axes as an input from opset 18
            axes = b.constant("axis_1", np.array([1], np.int64))
            confidence.append(b.node("ReduceMax", [probs, axes], f"max_{step}", keepdims=1))
        else:
            confidence.append(b.node("ReduceMax", [probs], f"max_{step}", axes=[1], keepdims=1))
        if step + 1 < steps:
            index = b.node("Reshape", [chosen[-1], flat], f"index_{step}")
            fed = b.node("OneHot", [index, depth, off_on], f"fed_{step + 1}", axis=-1)
    b.node("Concat", chosen, SYMBOLS, axis=1)
    b.node("Concat", confidence, CONFIDENCE, axis=1)

    graph = helper.make_graph(
        b.nodes,
        f"{info.name}_greedy",
        [helper.make_tensor_value_info(IDS, TensorProto.INT64, ["n", length])],
        [
            helper.make_tensor_value_info(SYMBOLS, TensorProto.INT64, ["n", steps]),
            helper.make_tensor_value_info(CONFIDENCE, TensorProto.FLOAT, ["n", steps]),
        ],
        list(b.initializers.values()),
    )
    model = helper.make_model(graph, opset_imports=list(encoder.opset_import))
    model.ir_version = encoder.ir_version
    model.producer_name = "seqserve.trainer.greedy"
    onnx.checker.check_model(model)
    path = folder / FILE
    onnx.save(model, path)
    return repository.graph_file(
        path,
        pb.GRAPH_ROLE_GREEDY,
        [pb.TensorSpec(name=IDS, dtype="int64", shape=[-1, length])],
        [
            pb.TensorSpec(name=SYMBOLS, dtype="int64", shape=[-1, steps]),
            pb.TensorSpec(name=CONFIDENCE, dtype="float32", shape=[-1, steps]),
        ],
    )


def check(
    info: pb.ModelInfo,
    runners: dict[int, inference.Runner],
    source: np.ndarray,
    probs: np.ndarray | None = None,
) -> None:
    """On the one-hot sources ``[n, L, C]``, the composed graph chooses the symbols the
    step-by-step loop chooses, with the same probabilities (within the parity tolerance);
    raise otherwise. ``probs``: the loop's step probabilities on ``source``, when the caller
    already has them (`inference.greedy_decode`)."""
    if probs is None:
        probs = inference.greedy_decode(info, runners, source)
    out = runners[pb.GRAPH_ROLE_GREEDY]({IDS: source.argmax(axis=-1).astype(np.int64)})
    if not np.array_equal(out[SYMBOLS], probs.argmax(axis=-1)):
        raise ParityError(f"{info.name}: {FILE} chooses other symbols than the step loop")
    diff = float(np.max(np.abs(out[CONFIDENCE] - probs.max(axis=-1))))
    if not diff <= TOLERANCE:
        raise ParityError(f"{info.name}: {FILE} confidences differ by {diff:.3g} from the loop")
