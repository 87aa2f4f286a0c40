"""A dropped-in model.onnx (a tensor model: its own named tensors) over KServe v2 REST:
tritonclient.http with binary and JSON tensors, and the generate extension."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import numpy as np
import pytest
import tritonclient.http as triton_http
from kserve.toy_graphs import scale_and_count, write

if TYPE_CHECKING:
    from conftest import RunningServer

X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 8.0]], dtype=np.float32)
K = np.array([[4], [41]], dtype=np.int64)


@pytest.fixture(scope="module")
def tensor_server(
    tmp_path_factory: pytest.TempPathFactory, launch_server: Callable[..., RunningServer]
) -> RunningServer:
    root = tmp_path_factory.mktemp("http-tensor-models")
    write(root / "scale" / "1", scale_and_count())
    return launch_server(root)


@pytest.mark.parametrize("binary", [True, False])
def test_tensor_model_through_tritonclient_http(tensor_server: RunningServer, binary: bool) -> None:
    client = triton_http.InferenceServerClient(f"127.0.0.1:{tensor_server.http_port}")
    try:
        tensors = []
        for name, array, datatype in (("x", X, "FP32"), ("k", K, "INT64")):
            tensor = triton_http.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array, binary_data=binary)
            tensors.append(tensor)
        outputs = [triton_http.InferRequestedOutput(n, binary_data=binary) for n in ("y", "k1")]
        result = client.infer("scale", tensors, outputs=outputs)
        np.testing.assert_array_equal(result.as_numpy("y"), X * 2)
        np.testing.assert_array_equal(result.as_numpy("k1"), K + 1)
    finally:
        client.close()


def test_tensor_model_generate(tensor_server: RunningServer) -> None:
    body = {"x": [1.0, 2.0, 3.0], "k": [4]}
    answer = httpx.post(f"{tensor_server.http_url}/v2/models/scale/generate", json=body).json()
    assert answer["y"] == [2.0, 4.0, 6.0] and answer["k1"] == 5
