"""Every error class through tritonclient: its status code and a message naming what is allowed."""

from __future__ import annotations

import queue

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import tensor

Client = triton.InferenceServerClient
INVALID = "StatusCode.INVALID_ARGUMENT"
NOT_FOUND = "StatusCode.NOT_FOUND"


def failure(call: object, *args: object, **kwargs: object) -> tuple[str, str]:
    assert callable(call)
    with pytest.raises(triton.InferenceServerException) as raised:
        call(*args, **kwargs)
    return str(raised.value.status()), raised.value.message()


def ints(
    values: list[list[int]], name: str = "INPUT", datatype: str = "INT64"
) -> triton.InferInput:
    array = np.array(values, dtype=np.float32 if datatype.startswith("FP") else np.int64)
    out = triton.InferInput(name, list(array.shape), datatype)
    out.set_data_from_numpy(array)
    return out


def test_unknown_model(triton_client: Client) -> None:
    code, message = failure(triton_client.infer, "no_such_model", [ints([[1, 2]])])
    assert code == NOT_FOUND
    assert message.startswith("model 'no_such_model' not found; models: addition,")
    code, _ = failure(triton_client.get_model_metadata, "no_such_model")
    assert code == NOT_FOUND
    code, _ = failure(triton_client.get_model_config, "no_such_model")
    assert code == NOT_FOUND


def test_unknown_version(triton_client: Client) -> None:
    code, message = failure(triton_client.infer, "sum_mlp", [ints([[1, 2]])], model_version="99")
    assert code == NOT_FOUND and "has no version 99" in message
    allowed = "model version must be a whole number of at most 10 digits 0-9"
    code, message = failure(triton_client.infer, "sum_mlp", [ints([[1, 2]])], model_version="v2")
    assert code == INVALID and message == f"{allowed}; got 'v2'"
    # digits of other scripts are not versions; a huge number is refused, not looked up
    for version in ("\u00b2", "\u0663", "9" * 5000):
        code, message = failure(
            triton_client.infer, "sum_mlp", [ints([[1, 2]])], model_version=version
        )
        assert code == INVALID and message.startswith(allowed), message
        assert len(message) < 200  # the version is echoed cut short


def test_wrong_input_name(triton_client: Client) -> None:
    code, message = failure(triton_client.infer, "echo_whole", [ints([[1, 2, 3, 4, 5]], "x")])
    assert code == INVALID
    assert message == (
        "model 'echo_whole' takes one input 'INPUT': INT64 or INT32 of shape [-1, 5], "
        "each item 5 ints in 0-99; got 'x'"
    )


def test_wrong_datatype(triton_client: Client) -> None:
    code, message = failure(
        triton_client.infer, "echo_whole", [ints([[1, 2, 3, 4, 5]], "INPUT", "FP32")]
    )
    assert code == INVALID
    assert "takes one input 'INPUT': INT64 or INT32" in message
    assert message.endswith("got datatype FP32")
    code, message = failure(triton_client.infer, "addition", [ints([[1]])])
    assert code == INVALID and "BYTES of shape [-1, 1] or [-1]" in message


def test_wrong_shape(triton_client: Client) -> None:
    code, message = failure(triton_client.infer, "reverse", [ints([[1, 2, 3]])])
    assert code == INVALID
    assert "INT64 or INT32 of shape [-1, 6], each item 6 ints in 1-50" in message
    assert message.endswith("got shape [1, 3]")


def test_values_checked_by_the_shared_codec(
    triton_client: Client, v1_stub: pb_grpc.SeqServeStub
) -> None:
    """Out-of-range ints and malformed text: the same message as seqserve.v1."""
    for model, triton_input, v1_input in (
        (
            "reverse",
            ints([[1, 2, 3, 4, 5, 60]]),
            pb.Input(ints=pb.Ints(values=[1, 2, 3, 4, 5, 60])),
        ),
        ("addition", tensor(["3+99"]), pb.Input(text="3+99")),
    ):
        code, message = failure(triton_client.infer, model, [triton_input])
        with pytest.raises(grpc.RpcError) as raised:
            v1_stub.Predict(pb.PredictRequest(model=model, inputs=[v1_input]), timeout=30)
        assert code == INVALID
        assert message == raised.value.details()  # type: ignore[attr-defined]


def test_unknown_output(triton_client: Client) -> None:
    wanted = [triton.InferRequestedOutput("LOGITS")]
    code, message = failure(triton_client.infer, "sum_mlp", [ints([[1, 2]])], outputs=wanted)
    assert code == INVALID
    assert message == "model 'sum_mlp' has no output 'LOGITS'; outputs: OUTPUT, ROUNDED"


def test_stateful_needs_a_sequence(triton_client: Client) -> None:
    code, message = failure(triton_client.infer, "recall", [ints([[3]])])
    assert code == INVALID
    assert "'recall' is stateful: send parameter sequence_id" in message
    code, message = failure(triton_client.infer, "recall", [ints([[3]])], sequence_id=424242)
    assert code == INVALID
    assert message == (
        "sequence '424242' of model 'recall' is not open; "
        "send sequence_start=true on its first request"
    )
    code, message = failure(
        triton_client.infer, "recall", [ints([[9]])], sequence_id=7, sequence_start=True
    )
    assert code == INVALID and "1 int in 0-4" in message


def test_stream_errors_do_not_end_the_stream(triton_client: Client) -> None:
    received: queue.Queue[tuple[object, object]] = queue.Queue()
    triton_client.start_stream(callback=lambda result, error: received.put((result, error)))
    try:
        triton_client.async_stream_infer("no_such_model", [ints([[1, 2]])], request_id="a")
        triton_client.async_stream_infer("sum_mlp", [ints([[1, 2]], "x")], request_id="b")
        triton_client.async_stream_infer("sum_mlp", [ints([[1, 2]])], request_id="c")
        replies = [received.get(timeout=30) for _ in range(3)]
    finally:
        triton_client.stop_stream()
    errors = sorted(
        e.message() for _, e in replies if isinstance(e, triton.InferenceServerException)
    )
    assert len(errors) == 2
    assert errors[0].startswith("model 'no_such_model' not found")
    assert errors[1].startswith("model 'sum_mlp' takes one input 'INPUT'")
    (result,) = [r for r, e in replies if e is None]
    assert isinstance(result, triton.InferResult)
    assert result.get_response().id == "c"
    assert result.as_numpy("ROUNDED").shape == (1, 1)


def test_request_timeout(triton_client: Client) -> None:
    """Triton's `timeout` parameter (microseconds) bounds the request like a deadline."""
    code, message = failure(triton_client.infer, "reverse", [ints([[1, 2, 3, 4, 5, 6]])], timeout=1)
    assert code == "StatusCode.DEADLINE_EXCEEDED"
    assert message == "deadline exceeded before the answer was ready"
    result = triton_client.infer("reverse", [ints([[1, 2, 3, 4, 5, 6]])], timeout=10_000_000)
    assert result.as_numpy("OUTPUT").shape == (1, 3)
