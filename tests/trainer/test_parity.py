"""Parity: recorded at export, and measured again here from the cached Keras weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqserve.trainer import cache, catalog, inference, repository

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
