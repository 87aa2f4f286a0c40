"""Small ONNX graphs written with `onnx.helper` for tensor-model tests: models nobody on the
project trained, whose answers are plain arithmetic."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from seqserve.contract.manifest import parse_manifest, write_manifest
from seqserve.v1 import seqserve_pb2 as pb

OPSET = 17
IR_VERSION = 8


def model(graph: onnx.GraphProto) -> onnx.ModelProto:
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    out.ir_version = IR_VERSION
    return out


def scale_and_count(batch: str | int = "N") -> onnx.ModelProto:
    """x float32 [batch, 3] -> y = 2x; k int64 [batch, 1] -> k1 = k + 1."""
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    one = numpy_helper.from_array(np.array(1, np.int64), "one")
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["x", "two"], ["y"]),
            helper.make_node("Add", ["k", "one"], ["k1"]),
        ],
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


def derived(folder: Path) -> pb.ModelInfo:
    """The manifest the server derives from `folder/model.onnx`, as `manifest` writes it."""
    command = [sys.executable, "-m", "seqserve.server", "manifest", str(folder), "--stdout"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return parse_manifest(out)


def pin(folder: Path, edit: Callable[[pb.ModelInfo], None] | None = None) -> pb.ModelInfo:
    """Write the derived manifest to `folder/model.json`, changed by `edit` first."""
    info = derived(folder)
    if edit is not None:
        edit(info)
    write_manifest(folder, info)
    return info
