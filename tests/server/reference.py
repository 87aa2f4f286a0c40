"""What the exported graphs answer when run directly with onnxruntime (no server).

The graph runs come from the trainer's own evaluation (`seqserve.trainer.inference`,
numpy + onnxruntime only); this module turns its outputs into the values a `Result`
carries, and draws fresh random inputs from a manifest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqserve.contract import codecs
from seqserve.trainer import inference
from seqserve.v1 import seqserve_pb2 as pb


def fresh_inputs(info: pb.ModelInfo, count: int, seed: int) -> list[str | list[int]]:
    """Random valid inputs as a caller would send them (text sometimes unpadded)."""
    rng = np.random.default_rng(seed)
    spec = info.input
    if spec.kind == pb.DATA_KIND_TEXT:
        fmt = spec.format
        out: list[str | list[int]] = []
        for k in range(count):
            terms = rng.integers(fmt.term_min, fmt.term_max + 1, size=fmt.terms)
            text = fmt.separator.join(str(t) for t in terms)
            out.append(codecs.pad_text(spec, text) if k % 2 else text)
        return out
    values = rng.integers(spec.min_value, spec.max_value + 1, size=(count, spec.length))
    return [row.tolist() for row in values]


def graph_input(info: pb.ModelInfo, items: list[codecs.Encoded]) -> np.ndarray:
    graph = next(g for g in info.graphs if g.role != pb.GRAPH_ROLE_DECODER_STEP)
    shape = [len(items), *graph.inputs[0].shape[1:]]
    if info.input.encoding == pb.ENCODING_SCALED:
        return (np.asarray(items, np.float32) / np.float32(info.input.scale)).reshape(shape)
    return inference.onehot(np.asarray(items, np.int64), info.input.cardinality).reshape(shape)


def expected(folder: Path, inputs: list[str | list[int]]) -> list[dict[str, object]]:
    """Per input: the fields a server `Result` must carry, computed from the graphs directly."""
    info, runners = inference.load(folder)
    items = [codecs.encode(info, item) for item in inputs]
    y = inference.forward(info, runners, graph_input(info, items))
    if info.kind == pb.SERVING_KIND_REGRESS:
        values = [codecs.denormalise(info.output, float(v)) for v in y.reshape(len(y), -1)[:, 0]]
        return [{"value": v, "rounded": round(v)} for v in values]
    probs = y if y.ndim == 3 else y[:, None, :]
    chosen = probs.argmax(axis=-1)
    confidence = np.take_along_axis(probs, chosen[..., None], axis=-1)[..., 0]
    out: list[dict[str, object]] = []
    for k in range(len(items)):
        row = chosen[k].tolist()
        answer: dict[str, object] = {"confidence": confidence[k].tolist()}
        if info.output.kind == pb.DATA_KIND_TEXT:
            answer["text"] = codecs.decode_text(info.output, row)
        else:
            answer["ints"] = row
        if info.kind == pb.SERVING_KIND_CLASSIFY:
            answer["probabilities"] = y[k].tolist()
        out.append(answer)
    return out


def step_probabilities(folder: Path, symbols: list[int]) -> np.ndarray:
    """A stateful model fed `symbols` one at a time from zeros: `[T, C]` probabilities."""
    info, runners = inference.load(folder)
    x = inference.onehot(np.asarray([symbols]), info.input.cardinality)
    return inference.step_sequences(info, runners, x)[0]
