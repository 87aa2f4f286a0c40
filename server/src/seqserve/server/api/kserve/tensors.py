"""The tensors a model shows on the Open Inference Protocol, derived from its manifest.

| manifest | input `INPUT` | outputs, in this order |
|---|---|---|
| text | BYTES `[-1, 1]` (or `[-1]`) | `OUTPUT` BYTES `[-1, 1]`, `CONFIDENCE` FP32 `[-1, L]` |
| ints | INT64 (or INT32) `[-1, N]` | `OUTPUT` INT64 `[-1, L]`, `CONFIDENCE` FP32 `[-1, L]` |
| classify | as ints | as ints, then `PROBABILITIES` FP32 `[-1, C]` |
| regress | INT64/INT32/FP32/FP64 `[-1, N]` | `OUTPUT` FP32 `[-1, 1]`, `ROUNDED` INT64 `[-1, 1]` |
| stateful_step | INT64 (or INT32) `[1, 1]` | as classify, batch 1 |
| tensor | the graph's inputs, as declared | the graph's outputs, as declared |

`-1` is the batch dimension, `N` the input length, `L` the output length (`-1` for a
seq2seq model with an end symbol: shorter rows are padded with -1, confidence with 0), `C` the
number of output symbols. The answer comes first, then its confidence (what `ModelMetadata`
lists and what a client gets when it asks for no output in particular). A tensor model's
tensors keep the graph's names, shapes (-1: any size) and element types (`WIRE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from seqserve.v1 import seqserve_pb2 as pb

INPUT = "INPUT"
OUTPUT = "OUTPUT"
CONFIDENCE = "CONFIDENCE"
PROBABILITIES = "PROBABILITIES"
ROUNDED = "ROUNDED"

BYTES, INT32, INT64, FP32, FP64 = "BYTES", "INT32", "INT64", "FP32", "FP64"
BATCH = -1

# manifest dtype -> (datatype, typed `contents` field, little-endian raw element type).
# FP16 has no typed field in the protocol: raw contents only.
WIRE: dict[str, tuple[str, str, str]] = {
    "bool": ("BOOL", "bool_contents", "|b1"),
    "int8": ("INT8", "int_contents", "|i1"),
    "int16": ("INT16", "int_contents", "<i2"),
    "int32": (INT32, "int_contents", "<i4"),
    "int64": (INT64, "int64_contents", "<i8"),
    "uint8": ("UINT8", "uint_contents", "|u1"),
    "uint16": ("UINT16", "uint_contents", "<u2"),
    "uint32": ("UINT32", "uint_contents", "<u4"),
    "uint64": ("UINT64", "uint64_contents", "<u8"),
    "float16": ("FP16", "", "<f2"),
    "float32": (FP32, "fp32_contents", "<f4"),
    "float64": (FP64, "fp64_contents", "<f8"),
    "string": (BYTES, "bytes_contents", ""),
}
# The same by datatype: (typed `contents` field, raw element type).
BY_DATATYPE: dict[str, tuple[str, str]] = {
    datatype: (field, raw) for datatype, field, raw in WIRE.values()
}


@dataclass(frozen=True, slots=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # BATCH (-1) for the batch dimension

    def describe(self) -> str:
        return f"{self.name!r} {self.datatype} {list(self.shape)}"


def is_tensor(info: pb.ModelInfo) -> bool:
    return info.kind == pb.SERVING_KIND_TENSOR


def is_stateful(info: pb.ModelInfo) -> bool:
    return info.kind == pb.SERVING_KIND_STATEFUL_STEP


def streams_symbols(info: pb.ModelInfo) -> bool:
    """seq2seq models can send each decoded symbol on ModelStreamInfer, to a request that
    asks for them (the `stream_symbols` parameter)."""
    return info.kind == pb.SERVING_KIND_SEQ2SEQ


def _batch(info: pb.ModelInfo) -> int:
    return 1 if is_stateful(info) else BATCH


def input_datatypes(info: pb.ModelInfo) -> tuple[str, ...]:
    """Accepted input datatypes, the published one first."""
    if info.input.kind == pb.DATA_KIND_TEXT:
        return (BYTES,)
    if info.input.encoding == pb.ENCODING_SCALED:
        return (INT64, INT32, FP32, FP64)
    return (INT64, INT32)


def input_spec(info: pb.ModelInfo) -> TensorSpec:
    length = 1 if info.input.kind == pb.DATA_KIND_TEXT else info.input.length
    return TensorSpec(INPUT, input_datatypes(info)[0], (_batch(info), length))


def input_specs(info: pb.ModelInfo) -> tuple[TensorSpec, ...]:
    if is_tensor(info):
        return tuple(_graph_spec(spec) for spec in info.graphs[0].inputs)
    return (input_spec(info),)


def _graph_spec(spec: pb.TensorSpec) -> TensorSpec:
    return TensorSpec(spec.name, WIRE[spec.dtype][0], tuple(int(d) for d in spec.shape))


def output_specs(info: pb.ModelInfo) -> tuple[TensorSpec, ...]:
    if is_tensor(info):
        return tuple(_graph_spec(spec) for spec in info.graphs[0].outputs)
    out = info.output
    batch = _batch(info)
    if out.kind == pb.DATA_KIND_VALUE:
        return (TensorSpec(OUTPUT, FP32, (batch, 1)), TensorSpec(ROUNDED, INT64, (batch, 1)))
    # answers that stop at an end symbol differ in length: -1, rows padded with -1
    length = -1 if info.decode.HasField("end_symbol") else out.length
    answer = (
        TensorSpec(OUTPUT, BYTES, (batch, 1))
        if out.kind == pb.DATA_KIND_TEXT
        else TensorSpec(OUTPUT, INT64, (batch, length))
    )
    specs = [answer, TensorSpec(CONFIDENCE, FP32, (batch, length))]
    if info.kind in (pb.SERVING_KIND_CLASSIFY, pb.SERVING_KIND_STATEFUL_STEP):
        specs.append(TensorSpec(PROBABILITIES, FP32, (batch, out.cardinality)))
    return tuple(specs)


def output_names(info: pb.ModelInfo) -> tuple[str, ...]:
    return tuple(spec.name for spec in output_specs(info))
