"""Parity: Keras and onnxruntime on the same 256 inputs, through the same decode loops."""

from __future__ import annotations

import numpy as np

from seqserve.trainer import datasets as ds
from seqserve.trainer import inference
from seqserve.trainer.catalog import Model
from seqserve.v1 import seqserve_pb2 as pb

SAMPLES = 256
TOLERANCE = 1e-4
PARITY_SEED_OFFSET = 2  # parity input seed = training seed + 2


class ParityError(RuntimeError):
    """Keras and onnxruntime disagree by more than the tolerance."""


def parity_inputs(model: Model, rng: np.random.Generator) -> np.ndarray:
    """256 valid graph inputs; random symbol sequences for recall (whole step sequences)."""
    if model.name == "recall":
        steps = ds.RECALL_SEQUENCES.shape[1]
        symbols = rng.integers(0, ds.RECALL_CARDINALITY, (SAMPLES, steps))
        return ds.onehot(symbols, ds.RECALL_CARDINALITY)
    if model.name == "reverse":
        return ds.onehot(ds.reverse_sources(rng, SAMPLES), ds.REVERSE_CARDINALITY)
    units = SAMPLES // 21 + 1 if model.name in ("echo_whole", "echo_partial") else SAMPLES
    x = getattr(ds, model.data)(rng, units).x
    return x[:SAMPLES]


def measure(
    model: Model, info: pb.ModelInfo, keras_runners: dict, onnx_runners: dict, seed: int
) -> pb.Parity:
    """Largest absolute difference of the outputs; raise above the tolerance."""
    x = parity_inputs(model, np.random.default_rng(seed))
    expected = inference.forward(info, keras_runners, x)
    got = inference.forward(info, onnx_runners, x)
    diff = float(np.max(np.abs(expected - got)))
    if not diff <= TOLERANCE:
        raise ParityError(
            f"{model.name}: Keras and onnxruntime differ by {diff:.3g} (tolerance {TOLERANCE})"
        )
    return pb.Parity(max_abs_diff=diff, samples=len(x), tolerance=TOLERANCE)
