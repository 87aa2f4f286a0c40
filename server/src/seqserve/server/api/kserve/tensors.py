"""The tensors a model shows on the Open Inference Protocol, derived from its manifest.

| manifest | input `INPUT` | outputs, in this order |
|---|---|---|
| text | BYTES `[-1, 1]` (or `[-1]`) | `OUTPUT` BYTES `[-1, 1]`, `CONFIDENCE` FP32 `[-1, L]` |
| ints | INT64 (or INT32) `[-1, N]` | `OUTPUT` INT64 `[-1, L]`, `CONFIDENCE` FP32 `[-1, L]` |
| classify | as ints | as ints, then `PROBABILITIES` FP32 `[-1, C]` |
| regress | INT64/INT32/FP32/FP64 `[-1, N]` | `OUTPUT` FP32 `[-1, 1]`, `ROUNDED` INT64 `[-1, 1]` |
| stateful_step | INT64 (or INT32) `[1, 1]` | as classify, batch 1 |

`-1` is the batch dimension, `N` the input length, `L` the output length, `C` the number
of output symbols. The answer comes first, then its confidence (what `ModelMetadata`
lists and what a client gets when it asks for no output in particular).
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


@dataclass(frozen=True, slots=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # BATCH (-1) for the batch dimension

    def describe(self) -> str:
        return f"{self.name!r} {self.datatype} {list(self.shape)}"


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


def output_specs(info: pb.ModelInfo) -> tuple[TensorSpec, ...]:
    out = info.output
    batch = _batch(info)
    if out.kind == pb.DATA_KIND_VALUE:
        return (TensorSpec(OUTPUT, FP32, (batch, 1)), TensorSpec(ROUNDED, INT64, (batch, 1)))
    answer = (
        TensorSpec(OUTPUT, BYTES, (batch, 1))
        if out.kind == pb.DATA_KIND_TEXT
        else TensorSpec(OUTPUT, INT64, (batch, out.length))
    )
    specs = [answer, TensorSpec(CONFIDENCE, FP32, (batch, out.length))]
    if info.kind in (pb.SERVING_KIND_CLASSIFY, pb.SERVING_KIND_STATEFUL_STEP):
        specs.append(TensorSpec(PROBABILITIES, FP32, (batch, out.cardinality)))
    return tuple(specs)


def output_names(info: pb.ModelInfo) -> tuple[str, ...]:
    return tuple(spec.name for spec in output_specs(info))
