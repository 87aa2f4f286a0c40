"""A ModelInferRequest's input tensor -> the plain items the shared codec validates.

Only the tensor's form is checked here (name, datatype, shape, element count, encoding of
`contents` or `raw_input_contents`); what the values may be is left to
`seqserve.server.validation`, which applies `seqserve.contract.codecs` exactly as it does for
seqserve.v1. Every failure is `InvalidInput` naming what the model expects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from seqserve.contract import codecs
from seqserve.server.api.kserve import tensors as t
from seqserve.server.api.kserve.arrays import split_bytes
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.errors import InvalidInput
from seqserve.v1 import seqserve_pb2 as pb

Item = str | list[int] | list[float]

# Little-endian element types of raw contents, and the typed `contents` field of each.
_RAW = {t.INT64: "<i8", t.INT32: "<i4", t.FP32: "<f4", t.FP64: "<f8"}
_TYPED = {
    t.INT64: "int64_contents",
    t.INT32: "int_contents",
    t.FP32: "fp32_contents",
    t.FP64: "fp64_contents",
    t.BYTES: "bytes_contents",
}


def expected(info: pb.ModelInfo) -> str:
    """What the model takes, for error messages."""
    spec = t.input_spec(info)
    types = " or ".join(t.input_datatypes(info))
    shapes = f"{list(spec.shape)} or [-1]" if spec.datatype == t.BYTES else f"{list(spec.shape)}"
    return (
        f"model {info.name!r} takes one input {spec.name!r}: {types} of shape {shapes}, "
        f"each item {codecs.describe_input(info)}"
    )


def read_items(
    info: pb.ModelInfo,
    request: kpb.ModelInferRequest,
    refuse_long: Callable[[Iterable[int], str], None] | None = None,
    refuse_batch: Callable[[pb.ModelInfo, int], None] | None = None,
) -> list[Item]:
    """The batch of user items in the request's one input tensor. The declared batch size
    is shown to `refuse_batch` before any element is read (a million-item tensor costs no
    per-item work); numeric rows have the manifest's length (the shape says so); texts are
    shown to `refuse_long` (their sizes in bytes) before they are decoded."""
    tensor, raw = _the_input(info, request)
    rows = _rows(info, tensor)
    if refuse_batch is not None:
        refuse_batch(info, rows)
    if tensor.datatype == t.BYTES:
        elements = _bytes_elements(info, tensor, raw, rows)
        if refuse_long is not None:
            refuse_long(map(len, elements), "bytes")
        return [_text(info, element) for element in elements]
    array = _numbers(info, tensor, raw, rows * math.prod(tensor.shape[1:]))
    return [list(row) for row in array.reshape(rows, -1).tolist()]


def read_symbol(info: pb.ModelInfo, request: kpb.ModelInferRequest) -> int:
    """The one symbol of a stateful step (shape [1, 1])."""
    tensor, raw = _the_input(info, request)
    _rows(info, tensor)
    (symbol,) = _numbers(info, tensor, raw, 1).tolist()
    return int(symbol)


# ------------------------------------------------------------------ form


def _the_input(
    info: pb.ModelInfo, request: kpb.ModelInferRequest
) -> tuple[kpb.ModelInferRequest.InferInputTensor, bytes | None]:
    names = [tensor.name for tensor in request.inputs]
    if names != [t.INPUT]:
        got = ", ".join(repr(n) for n in names) or "no input"
        raise InvalidInput(f"{expected(info)}; got {got}")
    tensor = request.inputs[0]
    if tensor.datatype not in t.input_datatypes(info):
        raise InvalidInput(f"{expected(info)}; got datatype {tensor.datatype or '(none)'}")
    raw = list(request.raw_input_contents)
    if not raw:
        return tensor, None
    if len(raw) != 1:
        raise InvalidInput(f"raw_input_contents has {len(raw)} entries for 1 input")
    if tensor.HasField("contents"):
        raise InvalidInput(
            f"input {t.INPUT!r} has both contents and raw_input_contents; send one of them"
        )
    return tensor, raw[0]


def _rows(info: pb.ModelInfo, tensor: kpb.ModelInferRequest.InferInputTensor) -> int:
    """Checks the shape; returns the batch size."""
    shape: list[int] = list(tensor.shape)
    want = t.input_spec(info).shape
    ok = bool(shape) and shape[0] >= 1 and all(d >= 0 for d in shape)
    if t.is_stateful(info):
        ok = ok and shape in ([1, 1], [1])
    elif tensor.datatype == t.BYTES:
        ok = ok and (len(shape) == 1 or shape[1:] == [1])
    else:
        ok = ok and shape[1:] == list(want[1:])
    if not ok:
        raise InvalidInput(f"{expected(info)}; got shape {shape}")
    return shape[0]


# ------------------------------------------------------------------ elements


def _numbers(
    info: pb.ModelInfo,
    tensor: kpb.ModelInferRequest.InferInputTensor,
    raw: bytes | None,
    count: int,
) -> np.ndarray:
    if raw is not None:
        dtype = np.dtype(_RAW[tensor.datatype])
        if len(raw) != count * dtype.itemsize:
            raise InvalidInput(
                f"input {t.INPUT!r} of shape {list(tensor.shape)} needs {count} "
                f"{tensor.datatype} elements ({count * dtype.itemsize} bytes) in "
                f"raw_input_contents; got {len(raw)} bytes"
            )
        return np.frombuffer(raw, dtype=dtype)
    values: Sequence[int | float] = getattr(tensor.contents, _TYPED[tensor.datatype])
    _check_count(tensor, len(values), count)
    return np.asarray(values)


def _bytes_elements(
    info: pb.ModelInfo,
    tensor: kpb.ModelInferRequest.InferInputTensor,
    raw: bytes | None,
    count: int,
) -> list[bytes]:
    elements = list(tensor.contents.bytes_contents) if raw is None else split_bytes(raw, t.INPUT)
    _check_count(tensor, len(elements), count)
    return elements


def _check_count(tensor: kpb.ModelInferRequest.InferInputTensor, got: int, count: int) -> None:
    if got != count:
        raise InvalidInput(
            f"input {t.INPUT!r} of shape {list(tensor.shape)} needs {count} elements; got {got}"
        )


def _text(info: pb.ModelInfo, element: bytes) -> str:
    try:
        return element.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{expected(info)}; got bytes that are not UTF-8: {element[:20]!r}"
        ) from None
