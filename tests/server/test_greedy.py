"""A seq2seq model's optional greedy graph (`greedy.onnx`, the whole decode in one graph):
a manifest that declares it wrongly, or on a kind that has none, does not load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seqserve.contract.manifest import read_manifest
from seqserve.server.repository import load_version
from seqserve.server.runtime import SessionFactory
from seqserve.server.settings import Settings
from seqserve.server.totals import Totals
from seqserve.v1 import seqserve_pb2 as pb

from .conftest import edited_copy, newest


def _load_edited(source: Path, repo: Path, edit: Callable[[pb.ModelInfo], None]) -> str:
    """Load a copy of a version whose manifest `edit` changed; the reason it is not ready."""
    folder = edited_copy(source, repo, edit)
    settings = Settings(models=repo)
    name, version = folder.parent.name, int(folder.name)
    loaded = load_version(folder, name, version, SessionFactory(settings), settings, Totals())
    assert loaded.engine is None, "the edited version loaded"
    return loaded.reason


def _greedy(info: pb.ModelInfo) -> pb.GraphFile:
    return next(g for g in info.graphs if g.role == pb.GRAPH_ROLE_GREEDY)


def test_a_greedy_graph_that_does_not_fit_the_model_is_refused(
    models_dir: Path, tmp_path: Path
) -> None:
    source = newest(models_dir, "reverse")

    def shorter(info: pb.ModelInfo) -> None:
        del _greedy(info).inputs[0].shape[1:]
        _greedy(info).inputs[0].shape.append(info.input.length - 1)

    reason = _load_edited(source, tmp_path / "a", shorter)
    assert "greedy.onnx" in reason and "expected" in reason and "ids -> symbols" in reason

    def floats(info: pb.ModelInfo) -> None:
        _greedy(info).inputs[0].dtype = "float32"

    reason = _load_edited(source, tmp_path / "b", floats)
    assert "greedy.onnx" in reason and "'int64'" in reason


def test_a_greedy_graph_on_a_single_graph_model_is_refused(
    models_dir: Path, tmp_path: Path
) -> None:
    greedy = _greedy(read_manifest(newest(models_dir, "reverse")))

    def extra(info: pb.ModelInfo) -> None:
        info.graphs.append(greedy)

    reason = _load_edited(newest(models_dir, "addition"), tmp_path, extra)
    assert "SERVING_KIND_FIXED_SEQ2SEQ needs graphs GRAPH_ROLE_MODEL" in reason, reason
