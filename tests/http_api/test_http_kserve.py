"""tritonclient.http (sync and aio) against the HTTP port: every model, JSON and binary
tensors, recall sequences, metadata, config, statistics, the repository index."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np
import pytest
import tritonclient.http as triton_http
import tritonclient.http.aio as triton_aio
from kserve.conftest import BATCH_MODELS, random_items, to_v1
from tritonclient.utils import InferenceServerException

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import as_array

if TYPE_CHECKING:
    from conftest import RunningServer

Client = triton_http.InferenceServerClient
PATTERN = [3, 0, 1, 2, 3]


def v1_results(stub: pb_grpc.SeqServeStub, name: str, items: list) -> list[pb.Result]:  # type: ignore[type-arg]
    request = pb.PredictRequest(model=name, inputs=[to_v1(item) for item in items])
    return list(stub.Predict(request, timeout=30).results)


def check(info: pb.ModelInfo, result: triton_http.InferResult, expected: list[pb.Result]) -> None:
    answer = result.as_numpy("OUTPUT")
    assert answer is not None and len(answer) == len(expected)
    if info.output.kind == pb.DATA_KIND_VALUE:
        np.testing.assert_allclose(answer[:, 0], [r.value for r in expected], rtol=1e-6)
        assert result.as_numpy("ROUNDED")[:, 0].tolist() == [r.rounded for r in expected]
        return
    if info.output.kind == pb.DATA_KIND_TEXT:
        texts = [row[0].decode() if isinstance(row[0], bytes) else row[0] for row in answer]
        assert texts == [r.text for r in expected]  # JSON BYTES arrive as str
    else:
        assert answer.tolist() == [list(r.ints.values) for r in expected]
    confidence = result.as_numpy("CONFIDENCE")
    np.testing.assert_allclose(confidence, [list(r.confidence) for r in expected], rtol=1e-5)


def inputs(items: list) -> list[triton_http.InferInput]:  # type: ignore[type-arg]
    array, datatype = as_array(items)
    tensor = triton_http.InferInput("INPUT", list(array.shape), datatype)
    tensor.set_data_from_numpy(array)  # binary, tritonclient's default
    return [tensor]


@pytest.mark.parametrize("name", BATCH_MODELS)
@pytest.mark.parametrize("binary", [True, False])
def test_infer_matches_v1(
    triton_http_client: Client,
    v1_stub: pb_grpc.SeqServeStub,
    exported: dict[str, pb.ModelInfo],
    name: str,
    binary: bool,
) -> None:
    items = random_items(exported[name], 5, seed=len(name))
    tensors = inputs(items)
    if not binary:
        array, _ = as_array(items)
        tensors[0].set_data_from_numpy(array, binary_data=False)
    outputs = [
        triton_http.InferRequestedOutput(spec, binary_data=binary)
        for spec in (
            "OUTPUT",
            "ROUNDED" if exported[name].output.kind == pb.DATA_KIND_VALUE else "CONFIDENCE",
        )
    ]
    result = triton_http_client.infer(name, tensors, outputs=outputs, request_id="r-1")
    check(exported[name], result, v1_results(v1_stub, name, items))
    response = result.get_response()
    assert response["id"] == "r-1" and response["model_name"] == name
    sent_binary = ["binary_data_size" in o.get("parameters", {}) for o in response["outputs"]]
    assert sent_binary == [binary, binary]


def test_no_outputs_named_sends_every_output_binary(
    triton_http_client: Client, v1_stub: pb_grpc.SeqServeStub, exported: dict[str, pb.ModelInfo]
) -> None:
    items = ["3+10", "1+1"]
    result = triton_http_client.infer("addition", inputs(items))
    assert [o["name"] for o in result.get_response()["outputs"]] == ["OUTPUT", "CONFIDENCE"]
    check(exported["addition"], result, v1_results(v1_stub, "addition", items))
    assert result.as_numpy("OUTPUT")[0, 0] == b"13"


def test_recall_sequence(triton_http_client: Client) -> None:
    answers = []
    for k, symbol in enumerate(PATTERN[:-1]):
        tensor = triton_http.InferInput("INPUT", [1, 1], "INT64")
        tensor.set_data_from_numpy(np.array([[symbol]], dtype=np.int64))
        result = triton_http_client.infer(
            "recall", [tensor], sequence_id="seq-http", sequence_start=k == 0,
            sequence_end=k == len(PATTERN) - 2,
        )  # fmt: skip
        answers.append(int(result.as_numpy("OUTPUT")[0, 0]))
        assert result.as_numpy("PROBABILITIES").shape == (1, 5)
    assert answers == PATTERN[1:]
    with pytest.raises(InferenceServerException) as raised:  # ended: not open any more
        triton_http_client.infer("recall", [tensor], sequence_id="seq-http")
    assert raised.value.status() == "400" and "sequence_start" in raised.value.message()


def test_health_metadata_config_index(triton_http_client: Client, exported: dict) -> None:  # type: ignore[type-arg]
    assert triton_http_client.is_server_live() and triton_http_client.is_server_ready()
    assert triton_http_client.is_model_ready("addition")
    assert not triton_http_client.is_model_ready("no-such-model")
    server = triton_http_client.get_server_metadata()
    assert server["name"] == "seqserve" and "binary_tensor_data" in server["extensions"]
    meta = triton_http_client.get_model_metadata("addition")
    assert meta["inputs"] == [{"name": "INPUT", "datatype": "BYTES", "shape": [-1, 1]}]
    assert meta["versions"] == [str(exported["addition"].version)]
    versioned = triton_http_client.get_model_metadata("addition", str(exported["addition"].version))
    assert versioned == meta
    config = triton_http_client.get_model_config("reverse")
    assert config["max_batch_size"] > 0 and config["input"][0]["data_type"] == "TYPE_INT64"
    assert config["model_transaction_policy"]["decoupled"] is False  # one response per request
    index = triton_http_client.get_model_repository_index()
    assert {entry["name"] for entry in index} == set(exported)
    assert all(entry["state"] == "READY" for entry in index)


def test_statistics_count_http_requests(triton_http_client: Client) -> None:
    before = triton_http_client.get_inference_statistics("echo_vanilla")["model_stats"][0]
    triton_http_client.infer("echo_vanilla", inputs([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]]))
    after = triton_http_client.get_inference_statistics("echo_vanilla")["model_stats"][0]
    success = after["inference_stats"]["success"]
    assert success["count"] == before["inference_stats"]["success"]["count"] + 1
    assert after["inference_count"] == before["inference_count"] + 2
    every = triton_http_client.get_inference_statistics()["model_stats"]
    assert "echo_vanilla" in {s["name"] for s in every}


def test_aio_client_on_every_model(
    server: RunningServer, v1_stub: pb_grpc.SeqServeStub, exported: dict[str, pb.ModelInfo]
) -> None:
    async def main() -> None:
        client = triton_aio.InferenceServerClient(f"127.0.0.1:{server.http_port}")
        try:
            assert await client.is_server_ready()
            jobs = {}
            for name in BATCH_MODELS:
                items = random_items(exported[name], 3, seed=7)
                array, datatype = as_array(items)
                tensor = triton_aio.InferInput("INPUT", list(array.shape), datatype)
                tensor.set_data_from_numpy(array)
                jobs[name] = (items, client.infer(name, [tensor]))
            results = await asyncio.gather(*(job for _, job in jobs.values()))
            for (name, (items, _)), result in zip(jobs.items(), results, strict=True):
                check(exported[name], result, v1_results(v1_stub, name, items))
        finally:
            await client.close()

    asyncio.run(main())
