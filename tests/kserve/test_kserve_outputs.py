"""Results -> output tensors, read back with tritonclient's own InferResult."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2 as triton_pb

from seqserve.server.api.kserve import outputs
from seqserve.server.api.kserve import tensors as t
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.errors import InvalidInput
from seqserve.server.results import ItemResult, SymbolEvent

from .manifests import info


def as_triton(response: kpb.ModelInferResponse) -> triton.InferResult:
    return triton.InferResult(triton_pb.ModelInferResponse.FromString(response.SerializeToString()))


def written(
    model: str, results: list[ItemResult], *names: str, typed: bool = False
) -> triton.InferResult:
    request = kpb.ModelInferRequest()
    for name in names:
        output = request.outputs.add(name=name)
        if typed:
            output.parameters["binary_data"].bool_param = False
    specs, asks_typed = outputs.requested(info(model), request)
    assert asks_typed is typed
    response = kpb.ModelInferResponse(model_name=model)
    outputs.write(response, specs, results, asks_typed)
    assert bool(response.raw_output_contents) is not typed
    return as_triton(response)


TAG = [ItemResult(symbols=(1, 2, 3, 4, 5), confidence=(0.9, 0.8, 0.7, 0.6, 0.5))] * 2


def test_ints_and_confidence() -> None:
    result = written("echo_whole", TAG)
    answer = result.as_numpy("OUTPUT")
    assert answer.dtype == np.int64 and answer.tolist() == [[1, 2, 3, 4, 5]] * 2
    confidence = result.as_numpy("CONFIDENCE")
    assert confidence.dtype == np.float32 and confidence.shape == (2, 5)
    np.testing.assert_allclose(confidence[0], [0.9, 0.8, 0.7, 0.6, 0.5], rtol=1e-6)


def test_typed_contents_on_request() -> None:
    """binary_data=false: typed contents (tritonclient itself reads only BYTES that way)."""
    response = written("echo_whole", TAG, "OUTPUT", "CONFIDENCE", typed=True).get_response()
    answer, confidence = response.outputs
    assert list(answer.contents.int64_contents) == [1, 2, 3, 4, 5] * 2
    assert list(answer.shape) == [2, 5] and answer.datatype == "INT64"
    np.testing.assert_allclose(confidence.contents.fp32_contents[:5], TAG[0].confidence, rtol=1e-6)


def test_default_order_is_answer_first() -> None:
    result = written(
        "echo_vanilla", [ItemResult((4,), None, confidence=(0.5,), probabilities=(0.05,) * 10)]
    )
    names = [o.name for o in result.get_response().outputs]
    assert names == ["OUTPUT", "CONFIDENCE", "PROBABILITIES"]
    assert result.as_numpy("PROBABILITIES").shape == (1, 10)


@pytest.mark.parametrize("typed", [False, True])
def test_text(typed: bool) -> None:
    results = [ItemResult((11, 1, 3), "13", confidence=(1.0, 1.0))]
    result = written("addition", results, "OUTPUT", typed=typed)
    assert result.as_numpy("OUTPUT").tolist() == [[b"13"]]
    assert result.as_numpy("CONFIDENCE") is None  # filtered out


def test_regress() -> None:
    results = [ItemResult(value=41.8, rounded=42), ItemResult(value=3.2, rounded=3)]
    result = written("sum_mlp", results)
    value = result.as_numpy("OUTPUT")
    assert value.dtype == np.float32 and value.shape == (2, 1)
    np.testing.assert_allclose(value[:, 0], [41.8, 3.2], rtol=1e-6)
    assert result.as_numpy("ROUNDED").tolist() == [[42], [3]]


def test_requested_subset_in_requested_order() -> None:
    result = written("echo_whole", TAG, "CONFIDENCE")
    assert [o.name for o in result.get_response().outputs] == ["CONFIDENCE"]
    assert result.as_numpy("OUTPUT") is None


def test_unknown_output() -> None:
    request = kpb.ModelInferRequest()
    request.outputs.add(name="SCORES")
    with pytest.raises(InvalidInput) as raised:
        outputs.requested(info("sum_mlp"), request)
    assert (
        raised.value.message == "model 'sum_mlp' has no output 'SCORES'; outputs: OUTPUT, ROUNDED"
    )


def test_streamed_symbol() -> None:
    response = kpb.ModelInferResponse()
    specs = t.output_specs(info("reverse"))
    outputs.write_symbol(response, specs, SymbolEvent(0, 2, 17, "", 0.75), text=False)
    result = as_triton(response)
    assert result.as_numpy("OUTPUT").tolist() == [[17]]
    assert result.as_numpy("CONFIDENCE").tolist() == [[0.75]]
    assert response.parameters["item"].int64_param == 0
    assert response.parameters["position"].int64_param == 2


def test_bytes_encoding_matches_tritonclient() -> None:
    from tritonclient.utils import serialize_byte_tensor

    elements = [b"13", b"", "é".encode()]
    theirs = serialize_byte_tensor(np.array(elements, dtype=np.object_)).item()
    assert outputs.encode_bytes(elements) == theirs
