"""Skill gates: each model's figure on fresh data, measured through its exported graphs.

``evaluate`` draws fresh data from a seed other than the training seed, runs it through
onnxruntime with ``inference.forward`` and compares the figure with the model's bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqserve.trainer import datasets as ds
from seqserve.trainer import inference
from seqserve.trainer.catalog import Model
from seqserve.v1 import seqserve_pb2 as pb

SAMPLES = 2_000
GATE_SEED_OFFSET = 1  # gate data seed = training seed + 1


class GateError(RuntimeError):
    """A model below its bar; the message names the model, its figure and the bar."""


def gate_data(model: Model, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Fresh graph inputs and the integer answers they should produce."""
    if model.name == "addition":
        data = ds.addition_from_terms(ds.addition_all_pairs())
    elif model.name == "recall":
        data = ds.recall(rng, 1)
    elif model.name in ("echo_whole", "echo_partial"):
        data = getattr(ds, model.data)(rng, SAMPLES // 21 + 1)
    elif model.name == "reverse":
        source = ds.reverse_sources(rng, SAMPLES)
        target = source[:, : ds.REVERSE_TARGET][:, ::-1]
        return ds.onehot(source, ds.REVERSE_CARDINALITY), target
    else:
        data = getattr(ds, model.data)(rng, SAMPLES)
    x = data.x[0] if isinstance(data.x, tuple) else data.x
    return x, data.targets


def score(model: Model, outputs: np.ndarray, targets: np.ndarray) -> float:
    """The model's skill figure from graph outputs and the expected answers."""
    if model.bar.metric == "rmse":
        predicted = np.rint(outputs[:, 0].astype(np.float64) * model.output.scale)
        return float(np.sqrt(np.mean((predicted - targets) ** 2)))
    symbols = outputs.argmax(axis=-1)
    if model.bar.metric == "exact_match":
        return float(np.mean(np.all(symbols == targets, axis=1)))
    return float(np.mean(symbols == targets))


@dataclass(frozen=True)
class Evaluation:
    skill: pb.Skill
    sources: np.ndarray  # the fresh graph inputs
    outputs: np.ndarray  # what the graphs produced from them (the step loop, for seq2seq)


def evaluate(model: Model, info: pb.ModelInfo, runners: dict, seed: int) -> Evaluation:
    """Measure the skill of an exported model; ``seed`` is that of the fresh data."""
    x, targets = gate_data(model, np.random.default_rng(seed))
    outputs = inference.forward(info, runners, x)
    skill = pb.Skill(
        metric=model.bar.metric,
        value=score(model, outputs, targets),
        bar=model.bar.value,
        higher_is_better=model.bar.higher_is_better,
        samples=len(x),
        seed=seed,
    )
    return Evaluation(skill, x, outputs)


def check(model: Model, skill: pb.Skill) -> None:
    if not model.bar.met(skill.value):
        relation = ">=" if model.bar.higher_is_better else "<="
        raise GateError(
            f"{model.name}: {skill.metric} {skill.value:.4f} on {skill.samples} fresh samples "
            f"misses the bar ({skill.metric} {relation} {skill.bar})"
        )
