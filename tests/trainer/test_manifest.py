"""Manifests: they round-trip through the proto message and match the graph files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnxruntime as ort
import pytest

from seqserve.contract.manifest import dump_manifest, parse_manifest, read_manifest, write_manifest
from seqserve.trainer import catalog, repository
from seqserve.v1 import seqserve_pb2 as pb


def _latest(models_dir: Path, name: str) -> tuple[Path, pb.ModelInfo]:
    found = repository.latest(models_dir, name)
    assert found is not None
    return models_dir / name / str(found[0]), found[1]


@pytest.mark.parametrize("model", catalog.MODELS, ids=lambda m: m.name)
def test_manifest_round_trip(models_dir: Path, tmp_path: Path, model: catalog.Model) -> None:
    folder, info = _latest(models_dir, model.name)
    assert parse_manifest(dump_manifest(info)) == info
    write_manifest(tmp_path, info)
    assert read_manifest(tmp_path) == info
    assert info.name == model.name
    assert info.version == int(folder.name)
    assert info.kind == model.kind
    assert info.input == model.input
    assert info.output == model.output
    assert info.decode == model.decode
    assert info.task


@pytest.mark.parametrize("model", catalog.MODELS, ids=lambda m: m.name)
def test_graph_files_match_manifest(models_dir: Path, model: catalog.Model) -> None:
    folder, info = _latest(models_dir, model.name)
    assert [g.file for g in info.graphs][: len(model.graphs)] == [g.file for g in model.graphs]
    assert {g.role for g in info.graphs} == catalog.exported_roles(model)
    onnx_type = {"float32": "tensor(float)", "int64": "tensor(int64)"}
    for graph in info.graphs:
        data = (folder / graph.file).read_bytes()
        assert graph.sha256 == hashlib.sha256(data).hexdigest()
        assert graph.size_bytes == len(data)
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == [t.name for t in graph.inputs]
        assert [o.name for o in session.get_outputs()] == [t.name for t in graph.outputs]
        for spec, node in zip(
            [*graph.inputs, *graph.outputs],
            session.get_inputs() + session.get_outputs(),
            strict=True,
        ):
            assert onnx_type[spec.dtype] == node.type, (graph.file, spec.name)
            assert spec.shape[0] == -1 and len(spec.shape) == len(node.shape)
            assert all(
                want == got
                for want, got in zip(spec.shape[1:], node.shape[1:], strict=True)
                if isinstance(got, int)
            ), (graph.file, spec.name, node.shape)


@pytest.mark.parametrize("model", catalog.MODELS, ids=lambda m: m.name)
def test_training_and_parity_recorded(models_dir: Path, model: catalog.Model) -> None:
    _, info = _latest(models_dir, model.name)
    t = info.training
    assert t.fingerprint and t.seed and t.parameters > 0 and t.seconds > 0
    assert t.epochs > 0 and t.examples > 0 and t.batch_size > 0
    assert "tensorflow" in t.framework and "tf2onnx" in t.framework
    assert t.created_at.endswith("Z")
    assert info.parity.samples == 256
    assert info.parity.tolerance == 1e-4
    assert 0 <= info.parity.max_abs_diff <= 1e-4


def test_addition_manifest_describes_its_text() -> None:
    spec = catalog.BY_NAME["addition"].input
    assert spec.kind == pb.DATA_KIND_TEXT
    assert (spec.length, spec.cardinality, spec.min_value, spec.max_value) == (5, 12, 0, 11)
    assert spec.alphabet == "0123456789+ " and spec.pad == " "
    assert spec.format.terms == 2 and spec.format.separator == "+"
    assert (spec.format.term_min, spec.format.term_max, spec.format.example) == (1, 10, "3+10")


def test_parameter_count_of_echo_vanilla(models_dir: Path) -> None:
    _, info = _latest(models_dir, "echo_vanilla")
    assert info.training.parameters == 3860
