"""A classify model whose onnxruntime call fails for one input: a real runtime error.

`poisoned` echoes the symbol at position 2 of 5 ints in 0-9 (like echo_vanilla), but its
graph reshapes its `[rows, 10]` output to `[rows, 10 + k]`, k being the number of batch
items whose first symbol is 9: any batch holding such an item fails inside onnxruntime
(Reshape: the element counts differ), and every other batch is answered normally.
Warm-up (all zeros) passes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from seqserve.contract.manifest import read_manifest, write_manifest

NAME = "poisoned"
POISON = 9


def graph() -> onnx.ModelProto:
    def const(name: str, values: list[int]) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)

    nodes = [
        helper.make_node("Gather", ["x", "two"], ["echo"], axis=1),
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["first_is_9"]),
        helper.make_node("ReduceSum", ["first_is_9"], ["count"], keepdims=0),
        helper.make_node("Cast", ["count"], ["count_int"], to=TensorProto.INT64),
        helper.make_node("Add", ["count_int", "ten"], ["width"]),
        helper.make_node("Unsqueeze", ["width", "zero"], ["width_1"]),
        helper.make_node("Shape", ["x"], ["x_shape"]),
        helper.make_node("Gather", ["x_shape", "zero"], ["rows"], axis=0),
        helper.make_node("Concat", ["rows", "width_1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["echo", "shape"], ["y"]),
    ]
    initializers = [
        numpy_helper.from_array(np.asarray(2, dtype=np.int64), "two"),
        const("starts", [0, POISON]),
        const("ends", [1, POISON + 1]),
        const("axes", [1, 2]),
        numpy_helper.from_array(np.asarray(10, dtype=np.int64), "ten"),
        const("zero", [0]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 5, 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])
    body = helper.make_graph(nodes, NAME, [x], [y], initializers)
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_poisoned(models: Path, repo: Path) -> Path:
    """`repo/poisoned/1/`: the graph above with echo_vanilla's manifest, renamed."""
    folder = repo / NAME / "1"
    folder.mkdir(parents=True)
    path = folder / "model.onnx"
    onnx.save(graph(), path)
    info = read_manifest(next((models / "echo_vanilla").glob("*/model.json")).parent)
    info.name, info.version = NAME, 1
    info.task = "Echo index 2 of 5 ints in 0-9; fails inside onnxruntime when x[0] is 9."
    data = path.read_bytes()
    info.graphs[0].file = "model.onnx"
    info.graphs[0].sha256 = hashlib.sha256(data).hexdigest()
    info.graphs[0].size_bytes = len(data)
    write_manifest(folder, info)
    return folder
