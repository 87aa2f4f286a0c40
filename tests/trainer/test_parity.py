"""Parity: recorded at export, and measured again here from the cached Keras weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from seqserve.trainer import cache, catalog, inference, repository
from seqserve.v1 import seqserve_pb2 as pb

from .conftest import Run


@pytest.mark.parametrize("name", ["reverse", "recall", "addition"])
def test_keras_and_onnxruntime_agree(models_dir: Path, cache_dir: Path, name: str) -> None:
    """Whole greedy decodes (reverse), step sequences (recall), one graph call (addition)."""
    from seqserve.trainer import graphs, parity, training

    model = catalog.BY_NAME[name]
    found = repository.latest(models_dir, name)
    assert found is not None
    version, info = found
    fp = info.training.fingerprint
    if not cache.is_cached(cache_dir, model, fp):
        pytest.skip(f"no cached weights for {name} {fp}: exported elsewhere")
    net, _ = training.load(cache_dir, model, fp)
    keras_runners = {
        g.role: graphs.keras_runner(graphs.function(model, net, g), g) for g in model.graphs
    }
    _, onnx_runners = inference.load(models_dir / name / str(version))
    measured = parity.measure(model, info, keras_runners, onnx_runners, seed=4242)
    assert measured.samples == 256
    assert measured.max_abs_diff <= 1e-4


def test_the_greedy_graph_decodes_as_the_step_graphs(models_dir: Path, tmp_path: Path) -> None:
    """`greedy.onnx` is the encoder and decoder-step loop in one graph: same symbols, same
    probabilities; and its check refuses a graph composed wrongly."""
    from seqserve.trainer import datasets, greedy
    from seqserve.trainer.parity import ParityError

    model = catalog.BY_NAME["reverse"]
    found = repository.latest(models_dir, model.name)
    assert found is not None
    info, runners = inference.load(models_dir / model.name / str(found[0]))
    rng = np.random.default_rng(4243)
    source = inference.onehot(datasets.reverse_sources(rng, 2_000), info.input.cardinality)
    greedy.check(info, runners, source)  # raises on any difference

    wrong = pb.ModelInfo()
    wrong.CopyFrom(info)
    wrong.decode.start_symbol = 7  # not the symbol the decoder was trained to start from
    for graph in info.graphs:
        shutil.copy(models_dir / model.name / str(found[0]) / graph.file, tmp_path)
    greedy.compose(wrong, tmp_path)
    runners[pb.GRAPH_ROLE_GREEDY] = inference.session_runner(tmp_path / greedy.FILE)
    with pytest.raises(ParityError, match="other symbols"):
        greedy.check(info, runners, source)


def test_a_decoder_of_another_shape_is_composed_whole(models_dir: Path, tmp_path: Path) -> None:
    """`greedy.onnx` is built from the LSTM weights when the graphs are the shape the trainer
    exports; a decoder step graph of any other shape (here one more node before `probs`) is
    copied whole into the composed graph, which decodes as the step graphs all the same."""
    import onnx
    from onnx import helper

    from seqserve.trainer import datasets, greedy

    found = repository.latest(models_dir, "reverse")
    assert found is not None
    folder = models_dir / "reverse" / str(found[0])
    for path in folder.iterdir():
        shutil.copy(path, tmp_path)
    info, runners = inference.load(tmp_path)
    decoder_file = next(g.file for g in info.graphs if g.role == pb.GRAPH_ROLE_DECODER_STEP)
    decoder = onnx.load(tmp_path / decoder_file)
    probs = decoder.graph.output[0].name
    for node in decoder.graph.node:
        node.output[:] = [f"{o}_raw" if o == probs else o for o in node.output]
    decoder.graph.node.append(helper.make_node("Identity", [f"{probs}_raw"], [probs]))
    onnx.save(decoder, tmp_path / decoder_file)

    lean = onnx.load(folder / greedy.FILE)
    greedy.compose(info, tmp_path)
    whole = onnx.load(tmp_path / greedy.FILE)
    assert "Identity" in {n.op_type for n in whole.graph.node}
    assert len(whole.graph.node) > len(lean.graph.node)
    source = inference.onehot(
        datasets.reverse_sources(np.random.default_rng(4244), 500), info.input.cardinality
    )
    runners[pb.GRAPH_ROLE_GREEDY] = inference.session_runner(tmp_path / greedy.FILE)
    runners[pb.GRAPH_ROLE_DECODER_STEP] = inference.session_runner(tmp_path / decoder_file)
    greedy.check(info, runners, source)  # raises on any difference


def test_report_lists_every_model(models_dir: Path) -> None:
    report = (models_dir / "REPORT.md").read_text(encoding="utf-8")
    for model in catalog.MODELS:
        assert f"`{model.name}`" in report
    assert "last `export`" in report
    assert (models_dir / "training.png").stat().st_size > 10_000


def test_report_is_rewritten_only_when_something_is_exported(
    models_dir: Path, run_trainer: Run
) -> None:
    before = (models_dir / "REPORT.md").stat().st_mtime_ns
    result, _ = run_trainer("export", "--only", "recall", "--models", str(models_dir))
    assert result.returncode == 0, result.stderr
    assert "recall: up to date" in result.stdout
    assert (models_dir / "REPORT.md").stat().st_mtime_ns == before
