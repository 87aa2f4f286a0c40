"""Engine results -> ModelInferResponse output tensors.

Outputs are written to `raw_output_contents` (little-endian, row-major; BYTES elements
length-prefixed), as Triton answers on gRPC. A client that asks for typed contents by
setting the output parameter `binary_data` to false (the KServe HTTP convention) on any
requested output gets every output in `contents` instead: the protocol does not allow
mixing the two in one response.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from seqserve.server import ids
from seqserve.server.api.kserve import tensors as t
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.errors import InvalidInput
from seqserve.server.results import ItemResult, SymbolEvent
from seqserve.v1 import seqserve_pb2 as pb

Column = Callable[[Sequence[ItemResult]], np.ndarray]

_NUMPY: dict[str, np.dtype[Any]] = {t.INT64: np.dtype("<i8"), t.FP32: np.dtype("<f4")}


def requested(
    info: pb.ModelInfo, request: kpb.ModelInferRequest
) -> tuple[tuple[t.TensorSpec, ...], bool]:
    """The outputs to send (all, answer first, when none is named) and whether typed."""
    specs = {spec.name: spec for spec in t.output_specs(info)}
    if not request.outputs:
        return tuple(specs.values()), False
    if len(request.outputs) > len(specs):  # refused before any name is read
        raise InvalidInput(
            f"{len(request.outputs)} outputs requested; model {info.name!r} has "
            f"{len(specs)}: {', '.join(specs)} (name each at most once)"
        )
    chosen: dict[str, t.TensorSpec] = {}
    typed = False
    for output in request.outputs:
        spec = specs.get(output.name)
        if spec is None:
            raise InvalidInput(
                f"model {info.name!r} has no output {ids.shown(output.name)!r}; "
                f"outputs: {', '.join(specs)}"
            )
        if spec.name in chosen:
            raise InvalidInput(f"output {spec.name!r} is requested twice; name each at most once")
        chosen[spec.name] = spec
        typed = typed or _asks_typed(output)
    return tuple(chosen.values()), typed


# Bytes of one element of each datatype in an answer; BYTES elements add their length prefix.
_ELEMENT_BYTES = {t.INT64: 8, t.FP32: 4, t.BYTES: 4}


def answer_bytes(info: pb.ModelInfo, specs: Sequence[t.TensorSpec], rows: int) -> int:
    """An upper bound of the answer's tensor bytes for `rows` items, known before any work:
    from the manifest's lengths, not from what the model will say."""
    total = 0
    for spec in specs:
        per_row = math.prod(d for d in spec.shape[1:]) * _ELEMENT_BYTES[spec.datatype]
        if spec.datatype == t.BYTES:
            per_row += info.output.length * 4  # UTF-8: at most 4 bytes per character
        total += rows * per_row
    return total


def check_answer_size(
    info: pb.ModelInfo, specs: Sequence[t.TensorSpec], rows: int, limit: int
) -> None:
    """Refuse, before any inference, a request whose answer could not be sent."""
    size = answer_bytes(info, specs, rows)
    if size > limit:
        raise InvalidInput(
            f"the answer for {rows} items would take up to {size} bytes, over the "
            f"{limit}-byte message limit (max_message_bytes); send fewer items or ask for "
            "fewer outputs"
        )


def _asks_typed(output: kpb.ModelInferRequest.InferRequestedOutputTensor) -> bool:
    if "binary_data" not in output.parameters:
        return False
    binary = output.parameters["binary_data"]
    return binary.HasField("bool_param") and not binary.bool_param


def write(
    response: kpb.ModelInferResponse,
    specs: Sequence[t.TensorSpec],
    results: Sequence[ItemResult],
    typed: bool = False,
) -> None:
    """Append the chosen output tensors for a batch of results to `response`."""
    for spec in specs:
        _append(response, spec, _COLUMNS[spec.name](results), typed)


def write_symbol(
    response: kpb.ModelInferResponse,
    specs: Sequence[t.TensorSpec],
    event: SymbolEvent,
    text: bool,
    typed: bool = False,
) -> None:
    """One streamed symbol as `OUTPUT`/`CONFIDENCE` of shape [1, 1] (others are skipped)."""
    response.parameters["item"].int64_param = event.item
    response.parameters["position"].int64_param = event.position
    for spec in specs:
        if spec.name == t.OUTPUT:
            value = (
                np.array([[event.text.encode()]], dtype=object)
                if text
                else np.array([[event.symbol]], dtype=np.int64)
            )
            _append(response, spec, value, typed)
        elif spec.name == t.CONFIDENCE:
            _append(response, spec, np.array([[event.confidence]], dtype=np.float32), typed)


# ------------------------------------------------------------------ columns


def _answer(results: Sequence[ItemResult]) -> np.ndarray:
    first = results[0]
    if first.text is not None:
        return np.array([[(r.text or "").encode()] for r in results], dtype=object)
    if first.value is not None:
        return np.array([[r.value] for r in results], dtype=np.float32)
    return _rows([r.symbols for r in results], np.int64, -1)


def _confidence(results: Sequence[ItemResult]) -> np.ndarray:
    return _rows([r.confidence for r in results], np.float32, 0)


def _rows(rows: list[tuple[Any, ...]], dtype: type, pad: int) -> np.ndarray:
    """Rows as one array; rows of different lengths (answers that stopped at an end symbol)
    padded at the end with `pad`."""
    width = max(map(len, rows))
    if all(len(row) == width for row in rows):
        return np.array(rows, dtype=dtype)
    out: np.ndarray = np.full((len(rows), width), pad, dtype=dtype)
    for index, row in enumerate(rows):
        out[index, : len(row)] = row
    return out


def _probabilities(results: Sequence[ItemResult]) -> np.ndarray:
    return np.array([r.probabilities for r in results], dtype=np.float32)


def _rounded(results: Sequence[ItemResult]) -> np.ndarray:
    return np.array([[r.rounded] for r in results], dtype=np.int64)


_COLUMNS: dict[str, Column] = {
    t.OUTPUT: _answer,
    t.CONFIDENCE: _confidence,
    t.PROBABILITIES: _probabilities,
    t.ROUNDED: _rounded,
}


# ------------------------------------------------------------------ encoding


def _append(
    response: kpb.ModelInferResponse, spec: t.TensorSpec, array: np.ndarray, typed: bool
) -> None:
    tensor = response.outputs.add(name=spec.name, datatype=spec.datatype, shape=array.shape)
    if spec.datatype == t.BYTES:
        elements: list[bytes] = array.reshape(-1).tolist()
        if typed:
            tensor.contents.bytes_contents.extend(elements)
        else:
            response.raw_output_contents.append(encode_bytes(elements))
        return
    flat = array.astype(_NUMPY[spec.datatype]).reshape(-1)
    if not typed:
        response.raw_output_contents.append(flat.tobytes())
    elif spec.datatype == t.INT64:
        tensor.contents.int64_contents.extend(flat.tolist())
    else:
        tensor.contents.fp32_contents.extend(flat.tolist())


def encode_bytes(elements: Sequence[bytes]) -> bytes:
    """BYTES elements as raw contents: each a 4-byte little-endian length, then the bytes."""
    return b"".join(len(e).to_bytes(4, "little") + e for e in elements)
