"""Health, metadata, configuration, repository index and statistics through tritonclient."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as triton

from seqserve.server.api.kserve import tensors as t
from seqserve.v1 import seqserve_pb2 as pb

from .conftest import random_items, tensor

Client = triton.InferenceServerClient


def test_server_live_and_ready(triton_client: Client) -> None:
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()


def test_server_metadata(triton_client: Client) -> None:
    metadata = triton_client.get_server_metadata()
    assert metadata.name == "seqserve"
    assert {"sequence", "statistics", "model_configuration"} <= set(metadata.extensions)


def test_every_model_ready(triton_client: Client, exported: dict[str, pb.ModelInfo]) -> None:
    for name in exported:
        assert triton_client.is_model_ready(name), name
        assert triton_client.is_model_ready(name, str(exported[name].version)), name
    assert not triton_client.is_model_ready("no_such_model")
    assert not triton_client.is_model_ready("echo_whole", "999")


def test_metadata_of_every_model(triton_client: Client, exported: dict[str, pb.ModelInfo]) -> None:
    for name, info in exported.items():
        metadata = triton_client.get_model_metadata(name)
        assert metadata.name == name
        assert metadata.platform == "onnxruntime_onnx"
        assert str(info.version) in metadata.versions
        spec = t.input_spec(info)
        (given,) = metadata.inputs
        assert (given.name, given.datatype, tuple(given.shape)) == (
            spec.name,
            spec.datatype,
            spec.shape,
        )
        outputs = [(o.name, o.datatype, tuple(o.shape)) for o in metadata.outputs]
        assert outputs == [(s.name, s.datatype, s.shape) for s in t.output_specs(info)]
        assert outputs[0][0] == "OUTPUT"
        if info.output.kind != pb.DATA_KIND_VALUE:
            assert outputs[1][0] == "CONFIDENCE"


@pytest.mark.parametrize(
    ("name", "datatype", "shape"),
    [("addition", "BYTES", [-1, 1]), ("echo_whole", "INT64", [-1, 5])],
)
def test_metadata_as_json(
    triton_client: Client, name: str, datatype: str, shape: list[int]
) -> None:
    metadata = triton_client.get_model_metadata(name, as_json=True)
    assert metadata["inputs"] == [
        {"name": "INPUT", "datatype": datatype, "shape": [str(d) for d in shape]}
    ]


def test_model_config(triton_client: Client, exported: dict[str, pb.ModelInfo]) -> None:
    whole = triton_client.get_model_config("echo_whole").config
    assert whole.max_batch_size > 0
    assert [(i.name, list(i.dims)) for i in whole.input] == [("INPUT", [5])]
    assert [o.name for o in whole.output] == ["OUTPUT", "CONFIDENCE"]
    assert whole.HasField("dynamic_batching")
    recall = triton_client.get_model_config("recall").config
    assert recall.max_batch_size == 0 and recall.HasField("sequence_batching")
    for name in exported:  # one response per request: no model is decoupled
        assert not triton_client.get_model_config(name).config.model_transaction_policy.decoupled


def test_repository_index(triton_client: Client, exported: dict[str, pb.ModelInfo]) -> None:
    index = triton_client.get_model_repository_index()
    ready = {(m.name, m.version) for m in index.models if m.state == "READY"}
    for name, info in exported.items():
        assert (name, str(info.version)) in ready


def test_statistics_count_requests(
    triton_client: Client, exported: dict[str, pb.ModelInfo]
) -> None:
    newest = str(exported["sum_mlp"].version)

    def stats() -> tuple[int, int, int, int]:
        (model,) = triton_client.get_inference_statistics("sum_mlp", newest).model_stats
        infer = model.inference_stats
        return model.inference_count, infer.success.count, infer.queue.count, model.execution_count

    before = stats()
    items = random_items(exported["sum_mlp"], 3, seed=5)
    triton_client.infer("sum_mlp", [tensor(items)])
    triton_client.infer("sum_mlp", [tensor(items[:1])])
    after = stats()
    assert after[0] - before[0] == 4  # items
    assert after[1] - before[1] == 2  # successful requests
    assert after[2] - before[2] >= 2  # requests queued for a batch (engine totals)
    assert after[3] - before[3] >= 1  # batched executions (engine totals)
    (model,) = triton_client.get_inference_statistics("sum_mlp", newest).model_stats
    assert model.version == newest
    assert model.inference_stats.success.ns > 0 and model.last_inference > 0
    assert model.inference_stats.compute_infer.ns > 0
    every = triton_client.get_inference_statistics().model_stats
    assert {m.name for m in every} >= set(exported)
    assert np.all([m.version for m in every])


def test_statistics_of_every_version(
    triton_client: Client, exported: dict[str, pb.ModelInfo]
) -> None:
    versions = triton_client.get_model_metadata("echo_whole").versions
    stats = triton_client.get_inference_statistics("echo_whole").model_stats
    assert [s.version for s in stats] == list(versions)
    assert all(s.name == "echo_whole" for s in stats)


@pytest.mark.parametrize("name", ["sum_mlp", "reverse", "recall"])
def test_statistics_keep_tritons_invariants(
    triton_client: Client, exported: dict[str, pb.ModelInfo], name: str
) -> None:
    """What Triton's perf_analyzer checks: per version, every successful request counted
    once in queue and in each compute phase, with its time in each."""
    if name not in exported:
        pytest.skip(f"{name} not exported")
    info = exported[name]
    version = str(info.version)
    stateful = info.kind == pb.SERVING_KIND_STATEFUL_STEP

    def send() -> None:
        if stateful:
            step = tensor([[3]])
            triton_client.infer(name, [step], sequence_id=991, sequence_start=True)
            triton_client.infer(name, [step], sequence_id=991, sequence_end=True)
        else:
            for seed in (8, 9):
                triton_client.infer(name, [tensor(random_items(info, 1, seed=seed))])

    send()
    (before,) = triton_client.get_inference_statistics(name, version).model_stats
    send()
    (after,) = triton_client.get_inference_statistics(name, version).model_stats
    stats = after.inference_stats
    counts = {
        phase: getattr(stats, phase).count - getattr(before.inference_stats, phase).count
        for phase in ("success", "queue", "compute_input", "compute_infer", "compute_output")
    }
    assert counts == dict.fromkeys(counts, 2)
    assert after.inference_count - before.inference_count == 2
    assert stats.compute_infer.ns > before.inference_stats.compute_infer.ns
    assert stats.compute_input.ns > 0 and stats.compute_output.ns > 0
    parts = stats.queue.ns + stats.compute_input.ns + stats.compute_infer.ns
    assert parts + stats.compute_output.ns <= stats.success.ns
    assert after.version == version and after.execution_count >= 1
