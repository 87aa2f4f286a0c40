"""ModelInfer and ModelStreamInfer through tritonclient give what seqserve.v1 Predict gives."""

from __future__ import annotations

import queue
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as triton

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import BATCH_MODELS, random_items, tensor, to_v1

Client = triton.InferenceServerClient


def predict(stub: pb_grpc.SeqServeStub, name: str, items: list[Any]) -> list[pb.Result]:
    request = pb.PredictRequest(model=name, inputs=[to_v1(item) for item in items])
    return list(stub.Predict(request, timeout=30).results)


def assert_same(info: pb.ModelInfo, result: triton.InferResult, expected: list[pb.Result]) -> None:
    n = len(expected)
    answer = result.as_numpy("OUTPUT")
    if info.output.kind == pb.DATA_KIND_VALUE:
        assert answer.dtype == np.float32 and answer.shape == (n, 1)
        np.testing.assert_allclose(answer[:, 0], [r.value for r in expected], rtol=1e-6)
        assert result.as_numpy("ROUNDED")[:, 0].tolist() == [r.rounded for r in expected]
        return
    if info.output.kind == pb.DATA_KIND_TEXT:
        assert answer.shape == (n, 1)
        assert [a.decode() for a in answer[:, 0]] == [r.text for r in expected]
    else:
        assert answer.dtype == np.int64 and answer.shape == (n, info.output.length)
        assert answer.tolist() == [list(r.ints.values) for r in expected]
    confidence = result.as_numpy("CONFIDENCE")
    assert confidence.dtype == np.float32 and confidence.shape == (n, info.output.length)
    np.testing.assert_allclose(confidence, [list(r.confidence) for r in expected], rtol=1e-6)
    if info.kind == pb.SERVING_KIND_CLASSIFY:
        probabilities = [list(r.probabilities) for r in expected]
        np.testing.assert_allclose(result.as_numpy("PROBABILITIES"), probabilities, rtol=1e-6)


@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("name", BATCH_MODELS)
def test_infer_matches_v1_predict(
    triton_client: Client,
    v1_stub: pb_grpc.SeqServeStub,
    exported: dict[str, pb.ModelInfo],
    name: str,
    batch: int,
) -> None:
    info = exported[name]
    items = random_items(info, batch, seed=batch)
    result = triton_client.infer(name, [tensor(items)], request_id="r1")
    response = result.get_response()
    assert (response.model_name, response.model_version, response.id) == (
        name,
        str(info.version),
        "r1",
    )
    assert_same(info, result, predict(v1_stub, name, items))


def test_int32_and_one_dimensional_text(
    triton_client: Client, v1_stub: pb_grpc.SeqServeStub, exported: dict[str, pb.ModelInfo]
) -> None:
    items = random_items(exported["reverse"], 4, seed=3)
    result = triton_client.infer("reverse", [tensor(items, "INT32")])
    assert_same(exported["reverse"], result, predict(v1_stub, "reverse", items))
    texts = ["3+10", "1+1", "10+10"]
    flat = triton.InferInput("INPUT", [3], "BYTES")
    flat.set_data_from_numpy(np.array([s.encode() for s in texts], dtype=np.object_))
    result = triton_client.infer("addition", [flat])
    assert_same(exported["addition"], result, predict(v1_stub, "addition", texts))


def test_requested_outputs(triton_client: Client, exported: dict[str, pb.ModelInfo]) -> None:
    items = random_items(exported["echo_vanilla"], 2, seed=1)
    wanted = [triton.InferRequestedOutput("PROBABILITIES")]
    result = triton_client.infer("echo_vanilla", [tensor(items)], outputs=wanted)
    assert [o.name for o in result.get_response().outputs] == ["PROBABILITIES"]
    assert result.as_numpy("PROBABILITIES").shape == (2, 10)
    assert result.as_numpy("OUTPUT") is None


def test_named_version(triton_client: Client, exported: dict[str, pb.ModelInfo]) -> None:
    version = str(exported["echo_whole"].version)
    items = random_items(exported["echo_whole"], 1, seed=2)
    result = triton_client.infer("echo_whole", [tensor(items)], model_version=version)
    assert result.get_response().model_version == version


def stream(client: Client, name: str, requests: list[dict[str, Any]]) -> list[Any]:
    """Send requests on one ModelStreamInfer stream; return every (result, error) until done."""
    received: queue.Queue[tuple[Any, Any]] = queue.Queue()
    client.start_stream(callback=lambda result, error: received.put((result, error)))
    try:
        for request in requests:
            client.async_stream_infer(name, **request)
        out: list[Any] = []
        finals = 0
        while finals < len(requests):
            result, error = received.get(timeout=30)
            out.append((result, error))
            if error is not None or _final(result):
                finals += 1
        return out
    finally:
        client.stop_stream()


def _final(result: triton.InferResult) -> bool:
    return bool(result.get_response().parameters["triton_final_response"].bool_param)


SYMBOLS = {"stream_symbols": True}  # the opt-in: every decoded symbol, then the result


def test_stream_reverse_answers_once_by_default(
    triton_client: Client, v1_stub: pb_grpc.SeqServeStub, exported: dict[str, pb.ModelInfo]
) -> None:
    """A seq2seq request on a stream gets one response, as on ModelInfer; the model is not
    declared decoupled, so Triton's tools need not stream to reach it."""
    info = exported["reverse"]
    items = random_items(info, 3, seed=12)
    received = stream(triton_client, "reverse", [{"inputs": [tensor(items)], "request_id": "o"}])
    assert len(received) == 1
    ((result, error),) = received
    assert error is None and _final(result) and result.get_response().id == "o"
    assert_same(info, result, predict(v1_stub, "reverse", items))
    config = triton_client.get_model_config("reverse").config
    assert not config.model_transaction_policy.decoupled


def test_stream_reverse_symbols_then_result(
    triton_client: Client, v1_stub: pb_grpc.SeqServeStub, exported: dict[str, pb.ModelInfo]
) -> None:
    info = exported["reverse"]
    items = random_items(info, 2, seed=11)
    request = {"inputs": [tensor(items)], "request_id": "s", "parameters": SYMBOLS}
    received = stream(triton_client, "reverse", [request])
    assert all(error is None for _, error in received)
    results = [r for r, _ in received]
    partial, last = results[:-1], results[-1]
    assert _final(last) and not any(_final(r) for r in partial)
    expected = predict(v1_stub, "reverse", items)
    assert_same(info, last, expected)
    steps = info.decode.steps
    assert len(partial) == len(items) * steps
    seen = set()
    for r in partial:
        params = r.get_response().parameters
        item, position = params["item"].int64_param, params["position"].int64_param
        assert r.as_numpy("OUTPUT").tolist() == [[expected[item].ints.values[position]]]
        seen.add((item, position))
    assert seen == {(i, p) for i in range(len(items)) for p in range(steps)}
    for item in range(len(items)):  # symbols of one item arrive in order
        positions = [
            r.get_response().parameters["position"].int64_param
            for r in partial
            if r.get_response().parameters["item"].int64_param == item
        ]
        assert positions == list(range(steps))


def test_stream_symbols_parameter_must_be_a_bool(triton_client: Client) -> None:
    items = [[1, 2, 3, 4, 5, 6]]
    request = {"inputs": [tensor(items)], "request_id": "b", "parameters": {"stream_symbols": 1}}
    ((_, error),) = stream(triton_client, "reverse", [request])
    assert isinstance(error, triton.InferenceServerException)
    assert error.message() == "parameter stream_symbols must be a bool"


def test_stream_other_kinds_answer_once(
    triton_client: Client, v1_stub: pb_grpc.SeqServeStub, exported: dict[str, pb.ModelInfo]
) -> None:
    items = random_items(exported["addition"], 3, seed=4)
    received = stream(triton_client, "addition", [{"inputs": [tensor(items)]}] * 2)
    assert len(received) == 2
    for result, error in received:
        assert error is None and _final(result)
        assert_same(exported["addition"], result, predict(v1_stub, "addition", items))


def test_stream_requests_decode_together(
    triton_client: Client, v1_stub: pb_grpc.SeqServeStub, exported: dict[str, pb.ModelInfo]
) -> None:
    """Many reverse requests on one stream, half of them asking for symbols: each final
    response matches Predict, by id."""
    info = exported["reverse"]
    batches = {f"req{k}": random_items(info, 4, seed=100 + k) for k in range(8)}
    requests = [
        {"inputs": [tensor(items)], "request_id": key, "parameters": {"stream_symbols": k % 2 == 0}}
        for k, (key, items) in enumerate(batches.items())
    ]
    received = stream(triton_client, "reverse", requests)
    finals = {r.get_response().id: r for r, error in received if error is None and _final(r)}
    assert sorted(finals) == sorted(batches)
    for key, items in batches.items():
        assert_same(info, finals[key], predict(v1_stub, "reverse", items))
    assert len(received) == len(batches) + len(batches) // 2 * 4 * info.decode.steps
