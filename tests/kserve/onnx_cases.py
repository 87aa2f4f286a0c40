"""Node test graphs of the `onnx` package (`onnx.backend.test.case.node`, the cases behind
`onnx/backend/test/data/node/<name>/`): graphs and inputs nobody on this project wrote.

A case module is imported on its own (its test cases are made as it loads), not the whole
collection, so picking a few costs little.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

Case = tuple[onnx.ModelProto, dict[str, np.ndarray]]


def node_case(module: str, name: str) -> Case:
    """The graph of node test `name` (made by `onnx.backend.test.case.node.<module>`) and the
    inputs of its first data set, by input name."""
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importlib.import_module(f"onnx.backend.test.case.node.{module}")
    case = next(c for c in node._NodeTestCases if c.name == name)
    inputs, _ = case.data_sets[0]
    names = [i.name for i in case.model.graph.input]
    return case.model, dict(zip(names, inputs, strict=True))


def with_free_first_dimension(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose every graph input and output has a symbolic first dimension: the form a
    batchable graph has (for element-wise graphs, whose answers do not mix rows)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for value in (*out.graph.input, *out.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = "batch"
    return out


def write_case(folder: Path, model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> None:
    """`model.onnx` and `test_data_set_0/input_<i>.pb`, as the package lays out node tests."""
    data = folder / "test_data_set_0"
    data.mkdir(parents=True)
    onnx.save_model(model, folder / "model.onnx")
    for index, (name, array) in enumerate(inputs.items()):
        tensor = numpy_helper.from_array(array, name)
        (data / f"input_{index}.pb").write_bytes(tensor.SerializeToString())


def read_inputs(folder: Path) -> dict[str, np.ndarray]:
    """The inputs of `folder/test_data_set_0`, by name."""
    out: dict[str, np.ndarray] = {}
    for path in sorted((folder / "test_data_set_0").glob("input_*.pb")):
        tensor = onnx.TensorProto.FromString(path.read_bytes())
        out[tensor.name] = numpy_helper.to_array(tensor)
    return out
