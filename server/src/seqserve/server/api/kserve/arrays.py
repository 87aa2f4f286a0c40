"""A tensor model's ModelInferRequest inputs -> NumPy arrays, and output arrays -> tensors.

Each input is checked against the graph before anything is decoded: its name, datatype,
rank and fixed dimensions, then the element count its shape implies against the contents
sent (`raw_input_contents` or the typed `contents` field of its datatype, `WIRE`), so a
request never allocates more than it carried. Typed integers must fit the element type;
BYTES elements (string tensors) are shown to `refuse_long` (their sizes in bytes) before
they are decoded, and must be UTF-8. Every failure is `InvalidInput` naming the input and
what the model takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from seqserve.server import dtypes
from seqserve.server.api.kserve import tensors as t
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.api.kserve.outputs import encode_bytes
from seqserve.server.engines import Arrays
from seqserve.server.errors import InvalidInput
from seqserve.v1 import seqserve_pb2 as pb

Input = kpb.ModelInferRequest.InferInputTensor
RefuseLong = Callable[[Iterable[int], str], None]


def expected(info: pb.ModelInfo) -> str:
    """What a tensor model takes, for error messages."""
    specs = "; ".join(spec.describe() for spec in t.input_specs(info))
    return f"model {info.name!r} takes {specs} (-1: any size)"


def read(info: pb.ModelInfo, request: kpb.ModelInferRequest, refuse_long: RefuseLong) -> Arrays:
    """The request's inputs by name, each of the graph's type and shape."""
    specs = {spec.name: spec for spec in info.graphs[0].inputs}
    names = [tensor.name for tensor in request.inputs]
    if sorted(names) != sorted(specs):
        got = ", ".join(repr(n) for n in names) or "no input"
        raise InvalidInput(f"{expected(info)}; got {got}")
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(names):
        raise InvalidInput(f"raw_input_contents has {len(raw)} entries for {len(names)} inputs")
    arrays: Arrays = {}
    for index, tensor in enumerate(request.inputs):
        if raw and tensor.HasField("contents"):
            raise InvalidInput(
                f"input {tensor.name!r} has both contents and raw_input_contents; send one"
            )
        shape = _checked_shape(info, specs[tensor.name], tensor)
        arrays[tensor.name] = _array(
            specs[tensor.name], tensor, raw[index] if raw else None, shape, refuse_long
        )
    return arrays


def _checked_shape(info: pb.ModelInfo, spec: pb.TensorSpec, tensor: Input) -> tuple[int, ...]:
    datatype = t.WIRE[spec.dtype][0]
    shape = tuple(int(d) for d in tensor.shape)
    fits = len(shape) == len(spec.shape) and all(
        d >= 0 and want in (-1, d) for d, want in zip(shape, spec.shape, strict=False)
    )
    if tensor.datatype != datatype or not fits:
        raise InvalidInput(
            f"{expected(info)}; got {tensor.name!r} {tensor.datatype or '(no datatype)'} "
            f"{list(shape)}"
        )
    return shape


def _array(
    spec: pb.TensorSpec,
    tensor: Input,
    raw: bytes | None,
    shape: tuple[int, ...],
    refuse_long: RefuseLong,
) -> np.ndarray:
    count = math.prod(shape)
    datatype, field, wire = t.WIRE[spec.dtype]
    if spec.dtype == "string":
        elements = (
            split_bytes(raw, tensor.name) if raw is not None else tensor.contents.bytes_contents
        )
        _check_count(tensor.name, shape, len(elements), count)
        refuse_long(map(len, elements), "bytes")
        return np.array([_text(tensor.name, e) for e in elements], dtype=object).reshape(shape)
    if raw is not None:
        size = np.dtype(wire).itemsize
        if len(raw) != count * size:
            raise InvalidInput(
                f"input {tensor.name!r} of shape {list(shape)} needs {count} {datatype} "
                f"elements ({count * size} bytes) in raw_input_contents; got {len(raw)} bytes"
            )
        return np.frombuffer(raw, dtype=wire).astype(dtypes.numpy_type(spec.dtype)).reshape(shape)
    if not field:
        raise InvalidInput(
            f"input {tensor.name!r} is {datatype}, which has no typed contents in the protocol; "
            "send it in raw_input_contents"
        )
    values: Sequence[int | float | bool] = getattr(tensor.contents, field)
    _check_count(tensor.name, shape, len(values), count)
    return _typed(spec, tensor.name, values).reshape(shape)


def _typed(spec: pb.TensorSpec, name: str, values: Sequence[int | float | bool]) -> np.ndarray:
    target = dtypes.numpy_type(spec.dtype)
    if target.kind not in "iu":
        return np.asarray(values, dtype=target)
    wide = np.asarray(values, dtype=np.uint64 if target.kind == "u" else np.int64)
    bounds = np.iinfo(target)
    if wide.size and (wide.min() < bounds.min or wide.max() > bounds.max):
        raise InvalidInput(
            f"input {name!r} is {t.WIRE[spec.dtype][0]}: values must be in "
            f"[{bounds.min}, {bounds.max}]; got {wide.min()}..{wide.max()}"
        )
    return wide.astype(target)


def _check_count(name: str, shape: tuple[int, ...], got: int, count: int) -> None:
    if got != count:
        raise InvalidInput(
            f"input {name!r} of shape {list(shape)} needs {count} elements; got {got}"
        )


def _text(name: str, element: bytes) -> str:
    try:
        return element.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"input {name!r} is a string tensor: elements must be UTF-8; got {element[:20]!r}"
        ) from None


def split_bytes(raw: bytes, name: str) -> list[bytes]:
    """Raw BYTES contents -> elements: each a 4-byte little-endian length, then the bytes."""
    elements: list[bytes] = []
    offset = 0
    while offset < len(raw):
        size = int.from_bytes(raw[offset : offset + 4], "little")
        if offset + 4 > len(raw) or offset + 4 + size > len(raw):
            raise InvalidInput(
                f"input {name!r} raw BYTES contents end inside the element at byte {offset}; "
                "each element is a 4-byte little-endian length followed by that many bytes"
            )
        elements.append(raw[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return elements


# ------------------------------------------------------------------ outputs


def check_typed(specs: Sequence[t.TensorSpec], typed: bool) -> None:
    """Typed contents were asked for: every chosen output must have a typed field."""
    for spec in specs if typed else ():
        if spec.datatype == "FP16":
            raise InvalidInput(
                f"output {spec.name!r} is FP16, which has no typed contents in the protocol; "
                "ask for it as binary data (raw_output_contents)"
            )


def write(
    response: kpb.ModelInferResponse,
    specs: Sequence[t.TensorSpec],
    info: pb.ModelInfo,
    arrays: Arrays,
    typed: bool,
) -> None:
    """Append the chosen outputs to `response`, raw (the default) or typed."""
    dtype_of = {spec.name: spec.dtype for spec in info.graphs[0].outputs}
    for spec in specs:
        array = arrays[spec.name]
        datatype, field, wire = t.WIRE[dtype_of[spec.name]]
        tensor = response.outputs.add(name=spec.name, datatype=datatype, shape=array.shape)
        if datatype == t.BYTES:
            elements = [_utf8(e) for e in array.reshape(-1).tolist()]
            if typed:
                tensor.contents.bytes_contents.extend(elements)
            else:
                response.raw_output_contents.append(encode_bytes(elements))
        elif typed:
            getattr(tensor.contents, field).extend(array.reshape(-1).tolist())
        else:
            response.raw_output_contents.append(array.astype(wire).tobytes())


def _utf8(element: object) -> bytes:
    return element if isinstance(element, bytes) else str(element).encode("utf-8")
