"""Third-party graphs served as tensor models: node test graphs of the `onnx` package,
dropped into a repository as bare `model.onnx` files, answered through tritonclient and
checked against onnxruntime run directly on the same inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import np_to_triton_dtype

from .onnx_cases import node_case, read_inputs, with_free_first_dimension, write_case

# model name -> (case module, node test); each fixed-shape graph as the package ships it
FIXED = {
    "and2d": ("and_", "test_and2d"),  # BOOL
    "max_int8": ("max", "test_max_int8"),  # INT8
    "max_uint64": ("max", "test_max_uint64"),  # UINT64
    "max_uint32": ("max", "test_max_uint32"),  # UINT32
    "max_float16": ("max", "test_max_float16"),  # FP16
    "max_float64": ("max", "test_max_float64"),  # FP64
    "string_concat": ("string_concat", "test_string_concat"),  # BYTES -> BYTES
    "equal_string": ("equal", "test_equal_string"),  # BYTES -> BOOL
    "where": ("where", "test_where_long_example"),  # BOOL, INT64
    "bitwise_and_i16": ("bitwiseand", "test_bitwise_and_i16_3d"),  # INT16
    "add_uint8": ("add", "test_add_uint8"),  # UINT8
}
# element-wise graphs given a free first dimension: batched dynamically
BATCHED = {
    "abs_batched": ("abs", "test_abs"),  # FP32 [-1, 4, 5]
    "sub_int8_batched": ("sub", "test_sub_int8"),  # INT8 [-1, 4, 5]
    "isnan_fp16_batched": ("isnan", "test_isnan_float16"),  # FP16 -> BOOL [-1]
    "concat_batched": ("string_concat", "test_string_concat"),  # BYTES [-1]
}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("onnx-suite")
    for name, (module, test) in {**FIXED, **BATCHED}.items():
        model, inputs = node_case(module, test)
        if name in BATCHED:
            model = with_free_first_dimension(model)
        write_case(root / name / "1", model, inputs)
    return root


@pytest.fixture(scope="module")
def target(suite: Path, launch_server: Callable[..., Any]) -> str:
    return launch_server(suite, "--max-batch-delay-us", "20000").target


@pytest.fixture(scope="module")
def client(target: str) -> Iterator[triton.InferenceServerClient]:
    connected = triton.InferenceServerClient(target)
    yield connected
    connected.close()


def direct(folder: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """onnxruntime on the same graph and inputs (strings as str, as it takes them)."""
    session = ort.InferenceSession(folder / "model.onnx", providers=["CPUExecutionProvider"])
    feed = {k: _as_str(v) for k, v in inputs.items()}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feed), strict=True))


def _as_str(array: np.ndarray) -> np.ndarray:
    if array.dtype != object:
        return array
    return np.vectorize(lambda e: e.decode() if isinstance(e, bytes) else e, otypes=[object])(array)


def _as_bytes(array: np.ndarray) -> np.ndarray:
    if array.dtype != object:
        return array
    return np.vectorize(lambda e: e.encode() if isinstance(e, str) else e, otypes=[object])(array)


def infer(
    client: triton.InferenceServerClient, name: str, inputs: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    tensors = []
    for key, array in inputs.items():
        tensor = triton.InferInput(key, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(_as_bytes(array))
        tensors.append(tensor)
    result = client.infer(name, tensors)
    return {o.name: result.as_numpy(o.name) for o in result.get_response().outputs}


def assert_same(served: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert sorted(served) == sorted(expected)
    for key, want in expected.items():
        got = served[key]
        assert got.shape == want.shape, key
        if want.dtype == object:
            assert got.tolist() == _as_bytes(want).tolist(), key
        else:
            assert got.dtype == want.dtype, key
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", sorted({**FIXED, **BATCHED}))
def test_answers_as_onnxruntime_does(
    name: str, suite: Path, client: triton.InferenceServerClient
) -> None:
    folder = suite / name / "1"
    inputs = read_inputs(folder)
    assert_same(infer(client, name, inputs), direct(folder, inputs))


@pytest.mark.parametrize("name", sorted(FIXED))
def test_metadata_and_config_publish_the_graph(
    name: str, suite: Path, client: triton.InferenceServerClient
) -> None:
    session = ort.InferenceSession(
        suite / name / "1" / "model.onnx", providers=["CPUExecutionProvider"]
    )
    metadata = client.get_model_metadata(name)
    inputs = read_inputs(suite / name / "1")
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        (k, np_to_triton_dtype(v.dtype), list(v.shape)) for k, v in inputs.items()
    ]
    assert [t.name for t in metadata.outputs] == [o.name for o in session.get_outputs()]
    assert [list(t.shape) for t in metadata.outputs] == [o.shape for o in session.get_outputs()]
    config = client.get_model_config(name).config
    assert config.max_batch_size == 0  # fixed shapes: each request runs alone
    assert [list(i.dims) for i in config.input] == [list(v.shape) for v in inputs.values()]


@pytest.mark.parametrize("name", sorted(BATCHED))
def test_batched_requests_keep_their_own_rows(
    name: str, suite: Path, client: triton.InferenceServerClient
) -> None:
    """Concurrent requests of different sizes share onnxruntime calls; each gets the rows of
    its own inputs back, as onnxruntime answers them one request at a time."""
    folder = suite / name / "1"
    base = read_inputs(folder)
    config = client.get_model_config(name).config
    assert config.max_batch_size > 0
    assert [list(i.dims) for i in config.input] == [list(v.shape[1:]) for v in base.values()]
    requests = [
        {k: np.concatenate([v] * copies)[shift:] for k, v in base.items()}
        for copies, shift in ((1, 0), (2, 1), (3, 2), (1, 1), (2, 0), (4, 3))
    ]
    with ThreadPoolExecutor(len(requests)) as pool:
        served = list(pool.map(lambda r: infer(client, name, r), requests))
    for request, answer in zip(requests, served, strict=True):
        assert_same(answer, direct(folder, request))


TYPED = {
    "bool": "bool_contents",
    "int8": "int_contents",
    "uint64": "uint64_contents",
    "uint32": "uint_contents",
    "float64": "fp64_contents",
    "object": "bytes_contents",
}


@pytest.mark.parametrize("name", ["and2d", "max_int8", "max_uint64", "max_float64", "equal_string"])
def test_typed_contents_in_and_out(name: str, suite: Path, target: str) -> None:
    """Inputs in the typed `contents` fields, outputs asked for as typed (binary_data false),
    through tritonclient's own protocol classes."""
    folder = suite / name / "1"
    inputs = read_inputs(folder)
    request = service_pb2.ModelInferRequest(model_name=name)
    for key, array in inputs.items():
        tensor = request.inputs.add(
            name=key, datatype=np_to_triton_dtype(array.dtype), shape=array.shape
        )
        getattr(tensor.contents, TYPED[array.dtype.name]).extend(
            _as_bytes(array).reshape(-1).tolist()
        )
    expected = direct(folder, inputs)
    for key in expected:
        request.outputs.add(name=key).parameters["binary_data"].bool_param = False
    with grpc.insecure_channel(target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        response = stub.ModelInfer(request, timeout=10)
    assert not response.raw_output_contents
    for output in response.outputs:
        want = expected[output.name]
        values = getattr(output.contents, TYPED[want.dtype.name])
        assert list(output.shape) == list(want.shape)
        assert list(values) == _as_bytes(want).reshape(-1).tolist()
