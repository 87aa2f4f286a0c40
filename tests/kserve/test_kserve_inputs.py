"""Input tensors -> plain items: typed and raw contents, and every form error."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest
import tritonclient.grpc as triton

from seqserve.server import limits
from seqserve.server.api.kserve import inputs
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.errors import InvalidInput

from .manifests import info


def triton_request(model: str, *tensors: triton.InferInput) -> kpb.ModelInferRequest:
    """What tritonclient puts on the wire for these inputs, parsed with seqserve's classes."""
    request = kpb.ModelInferRequest(model_name=model)
    for tensor in tensors:
        request.inputs.append(
            kpb.ModelInferRequest.InferInputTensor.FromString(
                tensor._get_tensor().SerializeToString()
            )
        )
        content = tensor._get_content()
        if content is not None:
            request.raw_input_contents.append(content)
    return request


def triton_input(array: np.ndarray, datatype: str, name: str = "INPUT") -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def typed_request(datatype: str, shape: list[int], **contents: object) -> kpb.ModelInferRequest:
    request = kpb.ModelInferRequest()
    request.inputs.add(
        name="INPUT",
        datatype=datatype,
        shape=shape,
        contents=kpb.InferTensorContents(**contents),  # type: ignore[arg-type]
    )
    return request


def test_raw_int64_from_tritonclient() -> None:
    array = np.array([[1, 2, 3, 4, 5], [9, 8, 7, 6, 5]], dtype=np.int64)
    request = triton_request("echo_whole", triton_input(array, "INT64"))
    assert inputs.read_items(info("echo_whole"), request) == [[1, 2, 3, 4, 5], [9, 8, 7, 6, 5]]


def test_raw_int32_from_tritonclient() -> None:
    array = np.array([[1, 2, 3, 4, 5, 6]], dtype=np.int32)
    request = triton_request("reverse", triton_input(array, "INT32"))
    assert inputs.read_items(info("reverse"), request) == [[1, 2, 3, 4, 5, 6]]


@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_raw_bytes_from_tritonclient(shape: tuple[int, ...]) -> None:
    array = np.array([b"3+10", b" 1+1", b"10+10"], dtype=np.object_).reshape(shape)
    request = triton_request("addition", triton_input(array, "BYTES"))
    assert inputs.read_items(info("addition"), request) == ["3+10", " 1+1", "10+10"]


def test_raw_floats_for_scaled_model() -> None:
    array = np.array([[12.0, 30.5]], dtype=np.float32)
    request = triton_request("sum_mlp", triton_input(array, "FP32"))
    assert inputs.read_items(info("sum_mlp"), request) == [[12.0, 30.5]]


def test_typed_contents() -> None:
    ints = typed_request("INT64", [1, 5], int64_contents=[5, 4, 3, 2, 1])
    assert inputs.read_items(info("echo_whole"), ints) == [[5, 4, 3, 2, 1]]
    int32 = typed_request("INT32", [1, 2], int_contents=[7, 8])
    assert inputs.read_items(info("sum_regression"), int32) == [[7, 8]]
    text = typed_request("BYTES", [2], bytes_contents=[b"1+2", b"3+4"])
    assert inputs.read_items(info("addition"), text) == ["1+2", "3+4"]
    fp64 = typed_request("FP64", [1, 2], fp64_contents=[1.5, 2.5])
    assert inputs.read_items(info("sum_mlp"), fp64) == [[1.5, 2.5]]


def test_symbol() -> None:
    request = triton_request("recall", triton_input(np.array([[3]], dtype=np.int64), "INT64"))
    assert inputs.read_symbol(info("recall"), request) == 3


def error(model: str, request: kpb.ModelInferRequest) -> str:
    with pytest.raises(InvalidInput) as raised:
        inputs.read_items(info(model), request)
    return raised.value.message


def test_wrong_name_says_what_the_model_takes() -> None:
    array = np.array([[1, 2, 3, 4, 5]], dtype=np.int64)
    message = error("echo_whole", triton_request("echo_whole", triton_input(array, "INT64", "x")))
    assert message.startswith(
        "model 'echo_whole' takes one input 'INPUT': INT64 or INT32 of shape [-1, 5], "
        "each item 5 ints in 0-99; got 'x'"
    )


def test_two_inputs_and_none() -> None:
    array = np.array([[1, 2]], dtype=np.int64)
    both = triton_request("sum_mlp", triton_input(array, "INT64"), triton_input(array, "INT64"))
    assert error("sum_mlp", both).endswith("got 'INPUT', 'INPUT'")
    assert error("sum_mlp", kpb.ModelInferRequest()).endswith("got no input")


def test_wrong_datatype() -> None:
    array = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]], dtype=np.float32)
    message = error("echo_whole", triton_request("echo_whole", triton_input(array, "FP32")))
    assert "INT64 or INT32" in message and message.endswith("got datatype FP32")
    text = np.array([[b"1+1"]], dtype=np.object_)
    assert error("echo_whole", triton_request("x", triton_input(text, "BYTES"))).endswith(
        "got datatype BYTES"
    )
    ints = np.array([[1]], dtype=np.int64)
    message = error("addition", triton_request("addition", triton_input(ints, "INT64")))
    assert "takes one input 'INPUT': BYTES of shape [-1, 1] or [-1]" in message


@pytest.mark.parametrize(
    ("model", "shape"),
    [("echo_whole", (2, 4)), ("echo_whole", (10,)), ("reverse", (1, 6, 1)), ("recall", (2, 1))],
)
def test_wrong_shape(model: str, shape: tuple[int, ...]) -> None:
    array = np.ones(shape, dtype=np.int64)
    message = error(model, triton_request(model, triton_input(array, "INT64")))
    assert message.endswith(f"got shape {list(shape)}")


def test_bytes_shape() -> None:
    array = np.array([[b"1+1", b"2+2"]], dtype=np.object_)
    message = error("addition", triton_request("addition", triton_input(array, "BYTES")))
    assert message.endswith("got shape [1, 2]")


def test_element_count_mismatch() -> None:
    raw = typed_request("INT64", [2, 5], int64_contents=[1, 2, 3])
    assert error("echo_whole", raw) == "input 'INPUT' of shape [2, 5] needs 10 elements; got 3"
    request = kpb.ModelInferRequest(raw_input_contents=[b"\x00" * 12])
    request.inputs.add(name="INPUT", datatype="INT64", shape=[1, 2])
    assert "needs 2 INT64 elements (16 bytes) in raw_input_contents; got 12 bytes" in error(
        "sum_mlp", request
    )


def test_truncated_and_bad_bytes() -> None:
    request = kpb.ModelInferRequest(raw_input_contents=[b"\x05\x00\x00\x001+1"])
    request.inputs.add(name="INPUT", datatype="BYTES", shape=[1])
    assert "end inside the element at byte 0" in error("addition", request)
    bad = typed_request("BYTES", [1], bytes_contents=[b"\xff\xfe"])
    assert "not UTF-8" in error("addition", bad)


def test_raw_and_typed_together() -> None:
    request = typed_request("INT64", [1, 2], int64_contents=[1, 2])
    request.raw_input_contents.append(np.array([1, 2], dtype="<i8").tobytes())
    assert "both contents and raw_input_contents" in error("sum_mlp", request)


def test_text_over_the_length_limit_is_refused_before_decoding() -> None:
    request = typed_request("BYTES", [2], bytes_contents=[b"1+1", b"\xff" * 50])

    def refuse_long(sizes: Iterable[int], unit: str) -> None:
        limits.check_sizes(sizes, 16, unit)

    with pytest.raises(InvalidInput) as raised:
        inputs.read_items(info("addition"), request, refuse_long)
    assert raised.value.message == (
        "input 1 has 50 bytes; the server accepts at most 16 per input (max_input_length)"
    )
    within = typed_request("BYTES", [1], bytes_contents=[b"1+1"])
    assert inputs.read_items(info("addition"), within, refuse_long) == ["1+1"]
