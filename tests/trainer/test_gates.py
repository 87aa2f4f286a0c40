"""Every skill gate, asserted on the exported graphs in ./models through onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqserve.contract import codecs
from seqserve.trainer import catalog, datasets, gates, inference, repository
from seqserve.v1 import seqserve_pb2 as pb

FRESH_SEED = 987_654  # neither the training seed nor the seed the export gate used


def _load(models_dir: Path, name: str) -> tuple[pb.ModelInfo, dict[int, inference.Runner]]:
    found = repository.latest(models_dir, name)
    assert found is not None
    return inference.load(models_dir / name / str(found[0]))


@pytest.mark.parametrize("model", catalog.MODELS, ids=lambda m: m.name)
def test_recorded_skill_meets_bar(models_dir: Path, model: catalog.Model) -> None:
    info, _ = _load(models_dir, model.name)
    assert info.skill.metric == model.bar.metric
    assert info.skill.bar == model.bar.value
    assert info.skill.seed != info.training.seed
    assert model.bar.met(info.skill.value), f"{model.name}: {info.skill}"


@pytest.mark.parametrize("model", catalog.MODELS, ids=lambda m: m.name)
def test_skill_on_fresh_data_meets_bar(models_dir: Path, model: catalog.Model) -> None:
    info, runners = _load(models_dir, model.name)
    skill = gates.evaluate(model, info, runners, FRESH_SEED).skill
    minimum = 100 if model.name == "addition" else 2 if model.name == "recall" else 1000
    assert skill.samples >= minimum
    gates.check(model, skill)


def test_addition_all_term_pairs_through_the_codec(models_dir: Path) -> None:
    info, runners = _load(models_dir, "addition")
    wrong = []
    for a, b in datasets.addition_all_pairs():
        symbols = codecs.encode(info, f"{a}+{b}")
        x = inference.onehot(np.array([symbols]), info.input.cardinality)
        out = inference.forward(info, runners, x).argmax(-1)[0]
        text = codecs.decode_text(info.output, [int(s) for s in out])
        if text != str(a + b):
            wrong.append(f"{a}+{b}={text}")
    assert len(wrong) <= 3, wrong  # the gate allows 3%
    assert codecs.pad_text(info.input, "3+10") == " 3+10"


def test_reverse_greedy_decode_reverses_the_first_three(models_dir: Path) -> None:
    info, runners = _load(models_dir, "reverse")
    source = np.array([[5, 17, 42, 1, 2, 3], [50, 1, 33, 9, 9, 9]])
    probs = inference.greedy_decode(info, runners, inference.onehot(source, 51))
    assert probs.shape == (2, 3, 51)
    np.testing.assert_array_equal(probs.argmax(-1), [[42, 17, 5], [33, 1, 50]])


def test_recall_predicts_both_sequences_at_every_step(models_dir: Path) -> None:
    info, runners = _load(models_dir, "recall")
    sequences = datasets.RECALL_SEQUENCES
    probs = inference.step_sequences(info, runners, inference.onehot(sequences[:, :-1], 5))
    np.testing.assert_array_equal(probs.argmax(-1), sequences[:, 1:])


@pytest.mark.parametrize("name", ["sum_regression", "sum_mlp"])
def test_regression_denormalises_with_the_manifest_scale(models_dir: Path, name: str) -> None:
    info, runners = _load(models_dir, name)
    terms = np.array([[10, 20], [50, 50], [37, 58], [90, 99]])
    shape = [-1 if d < 0 else d for d in info.graphs[0].inputs[0].shape]
    x = (terms / info.input.scale).astype(np.float32).reshape([len(terms), *shape[1:]])
    out = inference.forward(info, runners, x)[:, 0]
    sums = [codecs.denormalise(info.output, float(v)) for v in out]
    np.testing.assert_allclose(sums, terms.sum(1), atol=1.0)


def test_gate_failure_names_model_figure_and_bar() -> None:
    model = catalog.BY_NAME["reverse"]
    below = pb.Skill(metric="exact_match", value=0.5, bar=0.99, higher_is_better=True, samples=9)
    with pytest.raises(gates.GateError, match=r"reverse: exact_match 0\.5000 .* >= 0\.99"):
        gates.check(model, below)
