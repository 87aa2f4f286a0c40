"""Tensor models: a dropped-in model.onnx served with its own tensors, its derived manifest
written and pinned with `seqserve-server manifest`, per-model serving settings, and every
bad version or request refused with a reason naming the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import onnx
import pytest
import tritonclient.grpc as triton
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2, service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from seqserve.contract.manifest import read_manifest
from seqserve.server.repository.checks import sha256_of
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .toy_graphs import model, pin, scale_and_count, write

X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 8.0]], dtype=np.float32)
K = np.array([[4], [41]], dtype=np.int64)


def inputs(x: np.ndarray = X, k: np.ndarray = K) -> list[triton.InferInput]:
    out = []
    for name, array, datatype in (("x", x, "FP32"), ("k", k, "INT64")):
        tensor = triton.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        out.append(tensor)
    return out


def external_data(folder: Path) -> None:
    folder.mkdir(parents=True)
    graph = scale_and_count()
    onnx.save_model(
        graph,
        folder / "model.onnx",
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )


def set_dtype(name: str, dtype: str) -> Callable[[pb.ModelInfo], None]:
    def edit(info: pb.ModelInfo) -> None:
        next(t for t in info.graphs[0].inputs if t.name == name).dtype = dtype

    return edit


def set_shape(name: str, shape: list[int]) -> Callable[[pb.ModelInfo], None]:
    def edit(info: pb.ModelInfo) -> None:
        spec = next(t for t in info.graphs[0].inputs if t.name == name)
        del spec.shape[:]
        spec.shape.extend(shape)

    return edit


def rename(old: str, new: str) -> Callable[[pb.ModelInfo], None]:
    def edit(info: pb.ModelInfo) -> None:
        next(t for t in info.graphs[0].inputs if t.name == old).name = new

    return edit


def serving(**fields: int) -> Callable[[pb.ModelInfo], None]:
    def edit(info: pb.ModelInfo) -> None:
        for key, value in fields.items():
            setattr(info.serving, key, value)

    return edit


def warmup_of(name: str, shape: list[int]) -> Callable[[pb.ModelInfo], None]:
    def edit(info: pb.ModelInfo) -> None:
        info.serving.warmup.add(name=name, shape=shape)

    return edit


# model -> (how its version folder is made, words its not-ready reason must contain)
BAD: dict[str, tuple[Callable[[Path], Any], tuple[str, ...]]] = {
    "not_onnx": (
        lambda f: (f / "model.onnx").write_bytes(b"not a graph"),
        ("not a readable ONNX model",),
    ),
    "external": (external_data, ("external data", "SHA-256")),
    "missing_tensor": (
        lambda f: pin(f, rename("x", "image")),
        ("inputs", "image", "'x'"),
    ),
    "wrong_dtype": (lambda f: pin(f, set_dtype("x", "int32")), ("x", "tensor(float)", "int32")),
    "unknown_dtype": (lambda f: pin(f, set_dtype("x", "complex64")), ("complex64", "allowed")),
    "wrong_shape": (lambda f: pin(f, set_shape("x", [-1, 4])), ("x", "[-1, 3]", "[-1, 4]")),
    "wrong_rank": (lambda f: pin(f, set_shape("x", [-1])), ("x", "rank")),
    "bad_serving": (lambda f: pin(f, serving(max_batch_size=0)), ("serving.max_batch_size",)),
    "bad_warmup_name": (lambda f: pin(f, warmup_of("nope", [1, 3])), ("serving.warmup", "nope")),
    "bad_warmup_shape": (lambda f: pin(f, warmup_of("x", [1, 5])), ("warm-up",)),
}


def make_bad(folder: Path, name: str) -> None:
    if name != "external":
        write(folder, scale_and_count())
    BAD[name][0](folder)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tensor-models")
    write(root / "scale" / "1", scale_and_count())  # derived at load
    write(root / "fixed" / "1", scale_and_count(batch=2))
    write(root / "tuned" / "1", scale_and_count())
    np.save(root / "tuned" / "1" / "warm_x.npy", np.ones((8, 3), np.float32))
    pin(
        root / "tuned" / "1",
        lambda info: (
            serving(max_batch_size=3, max_batch_delay_us=7000, intra_op_threads=2)(info),
            info.serving.warmup.add(name="x", file="warm_x.npy"),
            info.serving.warmup.add(name="k", shape=[8, 1]),
        ),
    )
    for name in BAD:
        make_bad(root / name / "1", name)
    return root


@pytest.fixture(scope="module")
def target(repo: Path, launch_server: Callable[..., Any]) -> str:
    server = launch_server(repo)
    return str(server.target)


@pytest.fixture(scope="module")
def client(target: str) -> Iterator[triton.InferenceServerClient]:
    connected = triton.InferenceServerClient(target)
    yield connected
    connected.close()


@pytest.fixture(scope="module")
def v1(target: str) -> Iterator[pb_grpc.SeqServeStub]:
    with grpc.insecure_channel(target) as channel:
        yield pb_grpc.SeqServeStub(channel)


# ------------------------------------------------------------------ serving


@pytest.mark.parametrize("name", ["scale", "fixed", "tuned"])
def test_answers(name: str, client: triton.InferenceServerClient) -> None:
    result = client.infer(name, inputs())
    np.testing.assert_array_equal(result.as_numpy("y"), X * 2)
    np.testing.assert_array_equal(result.as_numpy("k1"), K + 1)
    assert result.as_numpy("y").dtype == np.float32


def test_one_output_when_asked(client: triton.InferenceServerClient) -> None:
    result = client.infer("scale", inputs(), outputs=[triton.InferRequestedOutput("k1")])
    assert [o.name for o in result.get_response().outputs] == ["k1"]
    np.testing.assert_array_equal(result.as_numpy("k1"), K + 1)


def test_metadata_publishes_the_graph(client: triton.InferenceServerClient) -> None:
    metadata = client.get_model_metadata("scale")
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("x", "FP32", [-1, 3]),
        ("k", "INT64", [-1, 1]),
    ]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [
        ("y", "FP32", [-1, 3]),
        ("k1", "INT64", [-1, 1]),
    ]


def test_config_batches_only_a_free_first_dimension(client: triton.InferenceServerClient) -> None:
    batched = client.get_model_config("scale").config
    assert batched.max_batch_size > 0
    assert [list(i.dims) for i in batched.input] == [[3], [1]]
    assert batched.HasField("dynamic_batching")
    fixed = client.get_model_config("fixed").config
    assert fixed.max_batch_size == 0
    assert [list(i.dims) for i in fixed.input] == [[2, 3], [2, 1]]
    assert not fixed.HasField("dynamic_batching")
    assert [o.data_type for o in fixed.output] == [
        model_config_pb2.TYPE_FP32,
        model_config_pb2.TYPE_INT64,
    ]


def test_per_model_settings_override_the_flags(client: triton.InferenceServerClient) -> None:
    tuned = client.get_model_config("tuned").config.dynamic_batching
    default = client.get_model_config("scale").config.dynamic_batching
    assert list(tuned.preferred_batch_size) == [3]
    assert tuned.max_queue_delay_microseconds == 7000
    assert list(default.preferred_batch_size) == [64]  # --max-batch-size default
    assert default.max_queue_delay_microseconds == 0


def test_v1_lists_the_model_and_points_predict_to_kserve(
    v1: pb_grpc.SeqServeStub, repo: Path
) -> None:
    status = v1.GetModel(pb.GetModelRequest(name="scale"))
    assert status.ready
    assert status.info.kind == pb.SERVING_KIND_TENSOR
    assert status.info.derived  # no model.json: the hash is not pinned
    assert status.info.graphs[0].sha256 == sha256_of(repo / "scale" / "1" / "model.onnx")
    assert [t.name for t in status.info.graphs[0].inputs] == ["x", "k"]
    pinned = v1.GetModel(pb.GetModelRequest(name="tuned"))
    assert pinned.ready and not pinned.info.derived
    with pytest.raises(grpc.RpcError) as raised:
        v1.Predict(pb.PredictRequest(model="scale", inputs=[pb.Input(ints=pb.Ints(values=[1]))]))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "KServe v2" in raised.value.details()


# ------------------------------------------------------------------ bad versions


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_version_not_ready_with_reason(name: str, v1: pb_grpc.SeqServeStub) -> None:
    status = v1.GetModel(pb.GetModelRequest(name=name))
    assert not status.ready
    for word in BAD[name][1]:
        assert word in status.reason, (word, status.reason)


def test_rest_of_repository_serves(client: triton.InferenceServerClient) -> None:
    index = {m.name: m.state for m in client.get_model_repository_index().models}
    assert index == {
        **{name: "UNAVAILABLE" for name in BAD},
        **dict.fromkeys(("scale", "fixed", "tuned"), "READY"),
    }


# ------------------------------------------------------------------ bad requests


def _code(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(InferenceServerException) as raised:
        call()
    return str(raised.value.status()), str(raised.value.message())


@pytest.mark.parametrize(
    ("x", "k", "words"),
    [
        (X.astype(np.float64), K, ("'x' FP32 [-1, 3]", "got 'x' FP64")),
        (X[:, :2], K, ("'x' FP32 [-1, 3]", "[2, 2]")),
        (X, K[:1], ("first dimension", "x 2, k 1")),
        (X.reshape(2, 3, 1), K, ("[2, 3, 1]",)),
    ],
)
def test_wrong_tensors_refused(
    client: triton.InferenceServerClient, x: np.ndarray, k: np.ndarray, words: tuple[str, ...]
) -> None:
    datatype = "FP64" if x.dtype == np.float64 else "FP32"
    tensors = [triton.InferInput("x", list(x.shape), datatype), inputs(k=k)[1]]
    tensors[0].set_data_from_numpy(x)
    status, message = _code(lambda: client.infer("scale", tensors))
    assert status == "StatusCode.INVALID_ARGUMENT"
    for word in words:
        assert word in message, (word, message)


def test_fixed_shape_refuses_another_batch(client: triton.InferenceServerClient) -> None:
    status, message = _code(lambda: client.infer("fixed", inputs(X[:1], K[:1])))
    assert status == "StatusCode.INVALID_ARGUMENT"
    assert "'x' FP32 [2, 3]" in message


def test_missing_input_named(client: triton.InferenceServerClient) -> None:
    status, message = _code(lambda: client.infer("scale", inputs()[:1]))
    assert status == "StatusCode.INVALID_ARGUMENT"
    assert "'k' INT64 [-1, 1]" in message


def _raw(target: str, request: service_pb2.ModelInferRequest) -> grpc.RpcError:
    with grpc.insecure_channel(target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.ModelInfer(request, timeout=10)
    return raised.value


def _request(**contents: Any) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name="scale")
    request.inputs.add(
        name="x",
        datatype="FP32",
        shape=[1, 3],
        contents=contents.get("x", {"fp32_contents": [1, 2, 3]}),
    )
    request.inputs.add(
        name="k",
        datatype="INT64",
        shape=[1, 1],
        contents=contents.get("k", {"int64_contents": [1]}),
    )
    return request


def test_element_count_must_match_shape(target: str) -> None:
    error = _raw(target, _request(x={"fp32_contents": [1, 2]}))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "needs 3 elements; got 2" in error.details()


def test_huge_shape_refused_before_allocating(target: str) -> None:
    request = service_pb2.ModelInferRequest(model_name="scale")
    request.inputs.add(name="x", datatype="FP32", shape=[1 << 40, 3])
    request.inputs.add(name="k", datatype="INT64", shape=[1 << 40, 1])
    request.raw_input_contents.extend([b"\0" * 12, b"\0" * 8])
    error = _raw(target, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "raw_input_contents" in error.details()


def test_typed_values_must_fit(tmp_path: Path, launch_server: Callable[..., Any]) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["a"], ["b"])],
        "identity_int8",
        [helper.make_tensor_value_info("a", TensorProto.INT8, ["n"])],
        [helper.make_tensor_value_info("b", TensorProto.INT8, ["n"])],
    )
    write(tmp_path / "repo" / "int8" / "1", model(graph))
    server = launch_server(tmp_path / "repo")
    request = service_pb2.ModelInferRequest(model_name="int8")
    request.inputs.add(name="a", datatype="INT8", shape=[2], contents={"int_contents": [5, 300]})
    error = _raw(server.target, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "[-128, 127]" in error.details()


# ------------------------------------------------------------------ manifest command


def test_manifest_command_pins_the_graph(tmp_path: Path, launch_server: Callable[..., Any]) -> None:
    folder = tmp_path / "repo" / "scale" / "3"
    write(folder, scale_and_count())
    command = [sys.executable, "-m", "seqserve.server", "manifest", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "model.json" in done.stdout
    info = read_manifest(folder)
    assert (info.name, info.version, info.kind) == ("scale", 3, pb.SERVING_KIND_TENSOR)
    assert not info.derived
    assert info.graphs[0].sha256 == sha256_of(folder / "model.onnx")
    assert json.loads((folder / "model.json").read_text())["graphs"][0]["inputs"][0] == {
        "name": "x",
        "dtype": "float32",
        "shape": ["-1", "3"],
    }
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 1 and "--force" in again.stderr
    write(folder, scale_and_count(batch=2))  # the graph changes after pinning
    write(tmp_path / "repo" / "other" / "1", scale_and_count())  # serving, so health is SERVING
    server = launch_server(tmp_path / "repo")
    with grpc.insecure_channel(server.target) as channel:
        status = pb_grpc.SeqServeStub(channel).GetModel(pb.GetModelRequest(name="scale"))
    assert not status.ready
    assert "SHA-256" in status.reason


def test_manifest_command_refuses_other_folders(tmp_path: Path) -> None:
    write(tmp_path / "scale" / "latest", scale_and_count())
    command = [
        sys.executable,
        "-m",
        "seqserve.server",
        "manifest",
        str(tmp_path / "scale" / "latest"),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 2
    assert "version folder" in done.stderr
