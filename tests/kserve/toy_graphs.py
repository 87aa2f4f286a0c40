"""Small ONNX graphs written with `onnx.helper` for tensor-model tests: models nobody on the
project trained, whose answers are plain arithmetic."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

OPSET = 17
IR_VERSION = 8


def model(graph: onnx.GraphProto) -> onnx.ModelProto:
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    out.ir_version = IR_VERSION
    return out


def scale_and_count(batch: str | int = "N") -> onnx.ModelProto:
    """x float32 [batch, 3] -> y = 2x; k int64 [batch, 1] -> k1 = k + 1."""
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    one = helper.make_tensor("one", TensorProto.INT64, [], [1])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"]), helper.make_node("Add", ["k", "one"], ["k1"])],
        "scale_and_count",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [batch, 1]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3]),
            helper.make_tensor_value_info("k1", TensorProto.INT64, [batch, 1]),
        ],
        initializer=[two, one],
    )
    return model(graph)


def write(folder: Path, graph: onnx.ModelProto, name: str = "model.onnx") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    onnx.save_model(graph, path)
    return path
