"""Element types of tensor models: the manifest's name, onnxruntime's name, the NumPy type.

One table for the three spellings of each type a `tensor` model may use. String tensors
are NumPy object arrays of `str`, as onnxruntime takes and returns them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# manifest dtype -> (onnxruntime type, NumPy dtype)
TYPES: dict[str, tuple[str, np.dtype[Any]]] = {
    "bool": ("tensor(bool)", np.dtype(np.bool_)),
    "int8": ("tensor(int8)", np.dtype(np.int8)),
    "int16": ("tensor(int16)", np.dtype(np.int16)),
    "int32": ("tensor(int32)", np.dtype(np.int32)),
    "int64": ("tensor(int64)", np.dtype(np.int64)),
    "uint8": ("tensor(uint8)", np.dtype(np.uint8)),
    "uint16": ("tensor(uint16)", np.dtype(np.uint16)),
    "uint32": ("tensor(uint32)", np.dtype(np.uint32)),
    "uint64": ("tensor(uint64)", np.dtype(np.uint64)),
    "float16": ("tensor(float16)", np.dtype(np.float16)),
    "float32": ("tensor(float)", np.dtype(np.float32)),
    "float64": ("tensor(double)", np.dtype(np.float64)),
    "string": ("tensor(string)", np.dtype(object)),
}
_BY_ONNX = {onnx: name for name, (onnx, _) in TYPES.items()}


def from_onnxruntime(onnx_type: str) -> str | None:
    """The manifest dtype of an onnxruntime type string; None when tensor models cannot
    carry it (bfloat16, float8, sequences, maps, ...)."""
    return _BY_ONNX.get(onnx_type)


def onnxruntime_type(dtype: str) -> str:
    return TYPES[dtype][0]


def numpy_type(dtype: str) -> np.dtype[Any]:
    return TYPES[dtype][1]


def allowed() -> str:
    return ", ".join(TYPES)
