"""`Client` against the real server: a round trip for every model, streams, sessions, errors."""

from __future__ import annotations

import dataclasses

import grpc
import pytest
from cases import MODELS, PREDICT_CASES, RECALL, check_regression, check_shape

from seqserve.client import (
    Client,
    DeadlineExceeded,
    InvalidInput,
    ModelNotFound,
    Prediction,
    SeqServeError,
    SessionNotFound,
    Snapshot,
    Symbol,
    Unavailable,
)
from seqserve.client._errors import from_rpc_error
from seqserve.contract.reasons import Reason, reason_in
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc


@pytest.mark.parametrize(("model", "x", "field", "expected"), PREDICT_CASES)
def test_predict(client: Client, model: str, x: object, field: str, expected: object) -> None:
    result = client.predict(model, x)  # type: ignore[call-overload]
    assert isinstance(result, Prediction)
    assert getattr(result, field) == expected
    check_shape(result, model)
    assert result.version == client.info(model).version


def test_predict_regression(client: Client) -> None:
    result = client.predict("sum_regression", [40, 2])
    check_regression(result)
    check_shape(result, "sum_regression")


def test_results_are_immutable(client: Client) -> None:
    result = client.predict("addition", "3+10")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.text = "14"  # type: ignore[misc]
    assert result.output == "13" and result.to_dict()["text"] == "13"


def test_batch_in_one_call_keeps_the_order(client: Client) -> None:
    results = client.predict("addition", ["1+1", "3+10", "10+10", "2+9"])
    assert [r.text for r in results] == ["2", "13", "20", "11"]
    reversed_ = client.predict("reverse", [[1, 2, 3, 4, 5, 6], [50, 49, 48, 1, 1, 1]])
    assert [r.ints for r in reversed_] == [(3, 2, 1), (48, 49, 50)]
    assert len(client.predict("sum_mlp", [[1, 1], [100, 100]])) == 2


def test_stream_yields_symbols_then_the_result(client: Client) -> None:
    events = list(client.stream("reverse", [1, 2, 3, 4, 5, 6]))
    symbols, final = events[:-1], events[-1]
    assert all(isinstance(e, Symbol) for e in symbols)
    assert [(s.item, s.position, s.symbol) for s in symbols] == [(0, 0, 3), (0, 1, 2), (0, 2, 1)]  # type: ignore[union-attr]
    assert isinstance(final, Prediction) and final.ints == (3, 2, 1)


def test_stream_of_a_batch(client: Client) -> None:
    events = list(client.stream("reverse", [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]))
    final = events[-1]
    assert isinstance(final, list) and [r.ints for r in final] == [(3, 2, 1), (9, 8, 7)]
    by_item: dict[int, list[int]] = {0: [], 1: []}
    for event in events[:-1]:
        assert isinstance(event, Symbol)
        by_item[event.item].append(event.symbol)
    assert by_item == {0: [3, 2, 1], 1: [9, 8, 7]}


def test_stream_of_a_one_graph_model_is_the_result(client: Client) -> None:
    events = list(client.stream("addition", "3+10"))
    assert len(events) == 1 and isinstance(events[0], Prediction) and events[0].text == "13"


def test_session_steps_reset_and_resume(client: Client) -> None:
    (first, first_next), (second, second_next) = RECALL
    with client.session("recall") as session:
        assert session.id and session.model == "recall" and session.version >= 1
        assert [session.step(s).symbol for s in first] == first_next
        session.reset()
        steps = [session.step(s) for s in second[:3]]
        assert [s.symbol for s in steps] == second_next[:3] and steps[-1].steps == 3
        assert len(steps[0].probabilities) == 5
        saved = session.snapshot()
    assert saved.model == "recall" and saved.steps == 3 and len(saved.h) == len(saved.c) == 20
    # Resume in a new session (after a trip through bytes and JSON): it remembers the 4.
    for restored in (Snapshot.from_bytes(saved.to_bytes()), Snapshot.from_json(saved.to_json())):
        assert restored == saved
        with client.session("recall", snapshot=restored) as resumed:
            assert resumed.step(second[3]).symbol == second_next[3]


def test_session_reattaches_by_id(client: Client) -> None:
    first = client.session("recall").open()
    session_id = first.id
    try:
        first.step(4)
        with client.session("recall", session_id=session_id) as again:
            assert again.id == session_id
            assert [again.step(s).symbol for s in (0, 1, 2)] == [1, 2, 4]
    finally:
        first.close()  # already closed by `again`: fine
    with pytest.raises(SessionNotFound), client.session("recall", session_id=session_id):
        pass


def test_models_and_info(client: Client) -> None:
    models = {m.name: m for m in client.models()}
    assert set(models) >= MODELS
    assert all(m.ready for m in models.values())
    addition = client.info("addition")
    assert (addition.kind, addition.input, addition.output) == (
        "fixed_seq2seq", '1-10 "+" 1-10, e.g. "3+10"', "text, 2 symbols"
    )  # fmt: skip
    assert addition.info.input.alphabet == "0123456789+ "
    assert addition.version == max(addition.versions)
    assert client.info("reverse").info.decode.steps == 3


def test_health(client: Client) -> None:
    assert client.health().serving
    assert client.health("seqserve.v1.SeqServe").status == "SERVING"
    assert client.health("no.such.Service").status == "SERVICE_UNKNOWN"


# ------------------------------------------------------------------ errors


def server_message(target: str, request: pb.PredictRequest) -> str:
    """What the server itself says about a request (no client-side check)."""
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as raised:
        pb_grpc.SeqServeStub(channel).Predict(request, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    return str(raised.value.details())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("model", "x"),
    [
        ("addition", "3+11"),
        ("addition", "3-10"),
        ("addition", [1, 2, 3, 4, 5]),
        ("reverse", [1, 2, 3]),
        ("reverse", [0, 1, 2, 3, 4, 5]),
        ("echo_vanilla", [1, 2, 3, 4, 2.5]),
        ("sum_mlp", [0, 2]),
        ("sum_mlp", [float("nan"), 2]),
        ("addition", ["3+10", "3+11"]),
    ],
)
def test_local_check_gives_the_servers_message(
    client: Client, server_target: str, model: str, x: object
) -> None:
    with pytest.raises(InvalidInput) as raised:
        client.predict(model, x)  # type: ignore[call-overload]
    from seqserve.client import _wire

    request = _wire.predict_request(None, model, x, 0).request  # type: ignore[arg-type]
    assert raised.value.message == server_message(server_target, request)
    assert raised.value.code == "INVALID_ARGUMENT"


def test_local_check_needs_no_round_trip(server_target: str) -> None:
    with Client(server_target) as client:
        client.info("addition")  # the manifest is cached now
        client._stub = pb_grpc.SeqServeStub(grpc.insecure_channel("127.0.0.1:1"))
        with pytest.raises(InvalidInput, match='got "3\\+11"'):
            client.predict("addition", "3+11")
        with pytest.raises(Unavailable):  # a valid input does go out, to nowhere
            client.predict("addition", "3+10", timeout=5)


ERROR_CASES = [
    (lambda c: c.predict("nope", [1]), ModelNotFound, "NOT_FOUND", "model 'nope' not found"),
    (lambda c: c.info("addition", version=99), ModelNotFound, "NOT_FOUND", "no version 99"),
    (
        lambda c: c.session("recall", session_id="feed").open(),
        SessionNotFound,
        "NOT_FOUND",
        "session 'feed' not found",
    ),
    (  # 256 sequences decode in >10 ms here; the deadline expires on one side or the other
        lambda c: c.predict("reverse", [[1, 2, 3, 4, 5, 6]] * 256, timeout=0.001),
        DeadlineExceeded,
        "DEADLINE_EXCEEDED",
        "eadline",
    ),
    (lambda c: c.predict("recall", [1]), InvalidInput, "INVALID_ARGUMENT", "recall"),
]


@pytest.mark.parametrize(("call", "error", "code", "message"), ERROR_CASES)
def test_errors_carry_the_servers_message(
    client: Client, call: object, error: type[SeqServeError], code: str, message: str
) -> None:
    with pytest.raises(SeqServeError) as raised:
        call(client)  # type: ignore[operator]
    assert type(raised.value) is error and not isinstance(raised.value, grpc.RpcError)
    assert raised.value.code == code and message in raised.value.message
    assert raised.value.__suppress_context__


def test_unreachable_server_is_unavailable() -> None:
    with Client("127.0.0.1:1", timeout=5) as client:
        with pytest.raises(Unavailable) as raised:
            client.models()
        assert "127.0.0.1:1" in raised.value.message
        with pytest.raises(Unavailable):
            client.health()


def test_a_missing_session_is_told_by_the_servers_reason_not_its_words(server_target: str) -> None:
    """NOT_FOUND carries `seqserve-reason` trailing metadata; the client reads that."""
    opening = pb.SessionRequest(open=pb.SessionOpen(session_id="feed"))
    with grpc.insecure_channel(server_target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        with pytest.raises(grpc.RpcError) as session:
            list(stub.Session(iter([opening]), timeout=10))
        with pytest.raises(grpc.RpcError) as model:
            stub.GetModel(pb.GetModelRequest(name="session-like-name"), timeout=10)
    for raised, reason, error in (
        (session.value, Reason.SESSION_NOT_FOUND, SessionNotFound),
        (model.value, Reason.MODEL_NOT_FOUND, ModelNotFound),
    ):
        assert raised.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
        assert reason_in(raised.trailing_metadata()) is reason  # type: ignore[attr-defined]
        assert type(from_rpc_error(raised)) is error
