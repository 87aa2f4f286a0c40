"""Each error class: its status code and a message that says what is allowed."""

from __future__ import annotations

import grpc
import pytest

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import code_of, ints, kind_models

NOT_FOUND = grpc.StatusCode.NOT_FOUND
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def predict(stub: pb_grpc.SeqServeStub, model: str, *inputs: pb.Input, version: int = 0):  # type: ignore[no-untyped-def]
    return lambda: stub.Predict(pb.PredictRequest(model=model, version=version, inputs=inputs))


def test_unknown_model_names_the_models(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    code, message = code_of(predict(stub, "nope", ints(1)))
    assert code == NOT_FOUND
    assert "'nope' not found" in message and all(name in message for name in manifests)
    code, _ = code_of(lambda: stub.GetModel(pb.GetModelRequest(name="nope")))
    assert code == NOT_FOUND


def test_unknown_version_names_the_versions(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    name, info = next(iter(manifests.items()))
    code, message = code_of(predict(stub, name, ints(1), version=999))
    assert code == NOT_FOUND
    assert "no version 999" in message and str(info.version) in message


def test_text_outside_the_grammar(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    texts = [n for n, i in manifests.items() if i.input.kind == pb.DATA_KIND_TEXT]
    assert texts, "no text model exported"
    for name in texts:
        fmt = manifests[name].input.format
        for bad in ("3+x", "", "1+2+3", "99999+1", "3 + 10"):
            code, message = code_of(predict(stub, name, pb.Input(text=bad)))
            assert code == INVALID, bad
            assert f'expects {fmt.term_min}-{fmt.term_max} "{fmt.separator}"' in message
            assert f'e.g. "{fmt.example}"' in message
    if "addition" in texts:
        _, message = code_of(predict(stub, "addition", pb.Input(text="3+x")))
        assert message == 'addition expects 1-10 "+" 1-10, e.g. "3+10"; got "3+x"'


def test_wrong_length_and_out_of_range(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    for name in kind_models(manifests, pb.SERVING_KIND_CLASSIFY, pb.SERVING_KIND_SEQ2SEQ):
        spec = manifests[name].input
        allowed = f"expects {spec.length} ints in {spec.min_value}-{spec.max_value}"
        code, message = code_of(predict(stub, name, ints(*[spec.min_value] * (spec.length + 1))))
        assert code == INVALID and allowed in message and f"{spec.length + 1} items" in message
        bad = [spec.min_value] * spec.length
        bad[1] = spec.max_value + 1
        code, message = code_of(predict(stub, name, ints(*bad)))
        assert code == INVALID and allowed in message
        assert f"{spec.max_value + 1} at position 1" in message


def test_wrong_input_kind(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    name = kind_models(manifests, pb.SERVING_KIND_CLASSIFY, pb.SERVING_KIND_TAG)[0]
    code, message = code_of(predict(stub, name, pb.Input(text="3+10")))
    assert code == INVALID and "expects" in message and "text" in message
    code, message = code_of(predict(stub, name, pb.Input()))
    assert code == INVALID and "empty input" in message


def test_empty_batch_and_batch_over_the_limit(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    name = kind_models(manifests, pb.SERVING_KIND_CLASSIFY, pb.SERVING_KIND_TAG)[0]
    code, message = code_of(predict(stub, name))
    assert code == INVALID and "empty batch" in message and "1-256 inputs" in message
    spec = manifests[name].input
    many = [ints(*[spec.min_value] * spec.length)] * 257
    code, message = code_of(predict(stub, name, *many))
    assert code == INVALID and "257 inputs" in message and "limit of 256" in message


def test_predict_on_a_session_model_and_session_on_a_predict_model(
    stub: pb_grpc.SeqServeStub, manifests: dict
) -> None:
    stateful = kind_models(manifests, pb.SERVING_KIND_STATEFUL_STEP)[0]
    code, message = code_of(predict(stub, stateful, ints(1)))
    assert code == INVALID and "Session" in message
    other = kind_models(manifests, pb.SERVING_KIND_CLASSIFY)[0]
    opening = iter([pb.SessionRequest(open=pb.SessionOpen(model=other))])
    code, message = code_of(lambda: list(stub.Session(opening)))
    assert code == INVALID and "stateful_step" in message


def test_session_errors(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    stateful = kind_models(manifests, pb.SERVING_KIND_STATEFUL_STEP)[0]
    spec = manifests[stateful].input
    unknown = iter([pb.SessionRequest(open=pb.SessionOpen(session_id="feedbeef"))])
    code, message = code_of(lambda: list(stub.Session(unknown)))
    assert code == NOT_FOUND and "feedbeef" in message
    no_open = iter([pb.SessionRequest(step=pb.SessionStep(symbol=1))])
    code, message = code_of(lambda: list(stub.Session(no_open)))
    assert code == INVALID and "open first" in message
    bad_symbol = iter(
        [
            pb.SessionRequest(open=pb.SessionOpen(model=stateful)),
            pb.SessionRequest(step=pb.SessionStep(symbol=spec.max_value + 1)),
        ]
    )
    code, message = code_of(lambda: list(stub.Session(bad_symbol)))
    assert code == INVALID and f"in {spec.min_value}-{spec.max_value}" in message
    bad_state = iter(
        [pb.SessionRequest(open=pb.SessionOpen(model=stateful, state=pb.SessionState(h=[1.0])))]
    )
    code, message = code_of(lambda: list(stub.Session(bad_state)))
    size = manifests[stateful].decode.state_size
    assert code == INVALID and f"{size} values each" in message


def test_deadline_exceeded_is_reported(stub: pb_grpc.SeqServeStub, manifests: dict) -> None:
    name = kind_models(manifests, pb.SERVING_KIND_SEQ2SEQ)[0]
    spec = manifests[name].input
    request = pb.PredictRequest(model=name, inputs=[ints(*[spec.min_value] * spec.length)] * 256)
    with pytest.raises(grpc.RpcError) as raised:
        for _ in range(50):
            stub.Predict(request, timeout=0.001)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert stub.Predict(request, timeout=30).results  # and the server is fine
