"""Fuzzing a real server with hypothesis: every answer is a documented status.

Requests of every shape go to one server on a private model repository: valid and invalid
inputs of every kind, wrong kinds, empty and huge lengths, negative and huge integers, NaN
and infinity, arbitrary unicode and control characters, random session conversations,
random (and mutated valid) bytes as the raw message of every method, and calls abandoned
mid-flight. Never `UNKNOWN`; `INTERNAL` only where the bytes do not parse as the request
message (gRPC refuses them before any server code runs). Afterwards the server answers
the golden requests exactly as before and its RSS grew by less than 10%.

`SEQSERVE_FUZZ_EXAMPLES` is the total number of generated requests (split over the tests
below); `make fuzz` runs 12,000, `make test` the default.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqserve.server.api.kserve.messages import pb as kpb  # private pool: beside tritonclient
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import FUZZ_EXAMPLES, rss_bytes
from .workload import as_message, key, matches, valid_input

if TYPE_CHECKING:
    from conftest import RunningServer

pytestmark = pytest.mark.slow  # full run: make fuzz / make soak

Code = grpc.StatusCode
DOCUMENTED = {
    Code.OK,
    Code.INVALID_ARGUMENT,
    Code.NOT_FOUND,
    Code.FAILED_PRECONDITION,
    Code.RESOURCE_EXHAUSTED,
    Code.DEADLINE_EXCEEDED,
}
SHARES = {"predict": 0.3, "kserve": 0.15, "session": 0.15, "raw": 0.3, "abandon": 0.1}
TIMEOUT = 15.0
INT64 = st.integers(-(2**63), 2**63 - 1)
EDGE_INTS = st.sampled_from([0, -1, 1, 9, 10, 99, 100, 2**31, -(2**31), 2**63 - 1, -(2**63)])
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
CONTROL = st.text(st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=8)


def examples(test: str) -> int:
    return max(10, int(FUZZ_EXAMPLES * SHARES[test]))


def fuzz_settings(test: str) -> Any:
    return settings(
        max_examples=examples(test),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@dataclass
class Tally:
    """Requests sent and codes seen, over the whole module."""

    requests: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, code: Code, count: int = 1) -> None:
        with self.lock:
            self.requests += count
            self.codes[code.name] += count


TALLY = Tally()


@dataclass
class Target:
    server: RunningServer
    channel: grpc.Channel
    stub: pb_grpc.SeqServeStub
    models: dict[str, pb.ModelInfo]
    golden: list[tuple[pb.PredictRequest, list[tuple[object, ...]]]]
    rss_before: int


def golden_requests(models: dict[str, pb.ModelInfo]) -> list[pb.PredictRequest]:
    rng = random.Random(7)
    out = []
    for name, info in sorted(models.items()):
        if info.kind == pb.SERVING_KIND_STATEFUL_STEP:
            continue
        inputs = [as_message(valid_input(info, rng)) for _ in range(4)]
        out.append(pb.PredictRequest(model=name, inputs=inputs))
    return out


@pytest.fixture(scope="module")
def target(repo: Path, launch_server: Callable[..., RunningServer]) -> Iterator[Target]:
    server = launch_server(repo, "--max-sessions", "200", "--session-idle-timeout", "5")
    channel = grpc.insecure_channel(server.target)
    stub = pb_grpc.SeqServeStub(channel)
    listed = stub.ListModels(pb.ListModelsRequest(), timeout=TIMEOUT)
    models = {m.info.name: m.info for m in listed.models if m.ready}
    golden = []
    for request in golden_requests(models):
        answer = stub.Predict(request, timeout=TIMEOUT)
        golden.append((request, [key(r) for r in answer.results]))
    warm_up(stub, models, huge=True)
    warm_up(stub, models, huge=False)  # settle after the peaks of the huge inputs
    time.sleep(0.5)
    yield Target(server, channel, stub, models, golden, rss_bytes(server.process.pid))
    channel.close()


def warm_up(stub: pb_grpc.SeqServeStub, models: dict[str, pb.ModelInfo], huge: bool) -> None:
    """Reach steady-state memory (every path once or more) before the RSS baseline."""
    rng = random.Random(1)
    for _ in range(20):
        for name, info in models.items():
            if info.kind == pb.SERVING_KIND_STATEFUL_STEP:
                continue
            batch = [as_message(valid_input(info, rng)) for _ in range(rng.randint(1, 64))]
            stub.Predict(pb.PredictRequest(model=name, inputs=batch), timeout=TIMEOUT)
            for bad in (
                pb.Input(text="\x00" * 100),
                pb.Input(text="9" * 100_000),
                pb.Input(ints=pb.Ints(values=[2**40] * 100_000)),
                pb.Input(values=pb.Values(values=[math.inf] * 100_000)),
            )[: 4 if huge else 1]:
                request = pb.PredictRequest(model=name, inputs=[bad] * rng.randint(1, 3))
                with pytest.raises(grpc.RpcError):
                    stub.Predict(request, timeout=TIMEOUT)


def check_code(code: Code, *, parseable: bool = True, extra: frozenset[Code] = frozenset()) -> None:
    TALLY.add(code)
    allowed = DOCUMENTED | extra | (set() if parseable else {Code.INTERNAL})
    assert code in allowed, f"status {code.name} is not in the documented set"


def call_code(fn: Callable[[], Any]) -> Code:
    try:
        fn()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return Code.OK


# ---------------------------------------------------------------- inputs


def ints_input(values: list[int]) -> pb.Input:
    return pb.Input(ints=pb.Ints(values=values))


def values_input(values: list[float]) -> pb.Input:
    return pb.Input(values=pb.Values(values=values))


@st.composite
def any_input(draw: st.DrawFn, models: dict[str, pb.ModelInfo], name: str) -> pb.Input:
    info = models.get(name)
    choice = draw(st.integers(0, 10))
    if info is not None and choice <= 3:  # valid for the model
        return as_message(valid_input(info, random.Random(draw(st.integers(0, 2**32)))))
    if choice == 4:
        return ints_input(draw(st.lists(st.one_of(INT64, EDGE_INTS), max_size=12)))
    if choice == 10:
        return values_input(draw(st.lists(FLOATS, max_size=12)))
    if choice == 5:
        return pb.Input(text=draw(st.one_of(TEXT, CONTROL)))
    if choice == 6:  # huge lengths (bounded by the message size)
        size = draw(st.sampled_from([1000, 5000, 100_000]))
        kind = draw(st.sampled_from(["ints", "values", "text"]))
        if kind == "ints":
            return ints_input([draw(EDGE_INTS)] * size)
        if kind == "values":
            return values_input([draw(FLOATS)] * size)
        char = draw(st.characters(exclude_categories=("Cs",)))
        return pb.Input(text=char * size if size < 100_000 else "9" * size)
    if choice == 7 and info is not None:  # right length, wrong values
        n = info.input.length
        wild = st.one_of(EDGE_INTS, st.integers(-5, 200))
        return ints_input(draw(st.lists(wild, min_size=n, max_size=n)))
    if choice == 8 and info is not None:
        n = info.input.length
        return values_input(draw(st.lists(FLOATS, min_size=n, max_size=n)))
    return pb.Input()  # no data at all


@st.composite
def predict_requests(draw: st.DrawFn, models: dict[str, pb.ModelInfo]) -> pb.PredictRequest:
    names = sorted(models)
    odds = draw(st.integers(0, 9))
    name = draw(st.sampled_from(names) if odds < 8 else st.one_of(TEXT, st.just("")))
    odds = draw(st.integers(0, 9))
    version = 0 if odds < 7 else draw(st.one_of(st.just(1), EDGE_INTS, INT64))
    count = draw(st.sampled_from([0, 1, 1, 1, 2, 3, 8, 257]))
    shown = min(count, 8)
    inputs = [draw(any_input(models, name)) for _ in range(shown)]
    inputs += inputs[-1:] * (count - shown)
    return pb.PredictRequest(model=name, version=version, inputs=inputs)


def test_fuzz_predict(target: Target) -> None:
    @fuzz_settings("predict")
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        request = data.draw(predict_requests(target.models))
        streaming = data.draw(st.booleans())
        try:
            if streaming:
                events = list(target.stub.PredictStream(request, timeout=TIMEOUT))
                results = list(events[-1].result.results) if events else []
            else:
                results = list(target.stub.Predict(request, timeout=TIMEOUT).results)
        except grpc.RpcError as exc:
            check_code(exc.code())
            assert exc.code() != Code.OK
            assert "Traceback" not in (exc.details() or "")
            return
        check_code(Code.OK)
        assert len(results) == len(request.inputs)

    run()


# ---------------------------------------------------------------- sessions


@st.composite
def session_actions(draw: st.DrawFn, models: dict[str, pb.ModelInfo]) -> list[pb.SessionRequest]:
    steppers = sorted(n for n, i in models.items() if i.kind == pb.SERVING_KIND_STATEFUL_STEP)
    actions: list[pb.SessionRequest] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["open", "open", "step", "step", "reset", "snap", "close", ""]))
        if kind == "open":
            name = draw(st.one_of(st.sampled_from(steppers + sorted(models)), TEXT))
            opening = pb.SessionOpen(model=name, version=draw(st.one_of(st.just(0), EDGE_INTS)))
            if draw(st.booleans()):
                size = models[name].decode.state_size if name in models else 4
                n = draw(st.sampled_from([size, size, 0, size + 1]))
                opening.state.CopyFrom(
                    pb.SessionState(
                        model=draw(st.sampled_from([name, "", "other"])),
                        h=draw(st.lists(FLOATS, min_size=n, max_size=n)),
                        c=draw(st.lists(FLOATS, min_size=n, max_size=n)),
                        steps=draw(EDGE_INTS),
                    )
                )
            if draw(st.integers(0, 5)) == 0:
                opening.session_id = draw(TEXT)
            actions.append(pb.SessionRequest(open=opening))
        elif kind == "step":
            symbol = draw(st.one_of(st.integers(-2, 12), EDGE_INTS))
            actions.append(pb.SessionRequest(step=pb.SessionStep(symbol=symbol)))
        elif kind == "reset":
            actions.append(pb.SessionRequest(reset=pb.SessionReset()))
        elif kind == "snap":
            actions.append(pb.SessionRequest(snapshot=pb.SessionSnapshot()))
        elif kind == "close":
            actions.append(pb.SessionRequest(close=pb.SessionClose()))
        else:
            actions.append(pb.SessionRequest())
    return actions


def test_fuzz_sessions(target: Target) -> None:
    @fuzz_settings("session")
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        actions = data.draw(session_actions(target.models))
        code = call_code(lambda: list(target.stub.Session(iter(actions), timeout=TIMEOUT)))
        check_code(code)
        with TALLY.lock:
            TALLY.requests += len(actions) - 1  # every message of the stream is a request

    run()


# ---------------------------------------------------------------- KServe ModelInfer

DATATYPES = ["INT64", "INT32", "FP32", "FP64", "BYTES", "BOOL", "UINT8", "FP16", "", "int64"]


@st.composite
def infer_requests(draw: st.DrawFn, models: dict[str, pb.ModelInfo]) -> kpb.ModelInferRequest:
    """ModelInferRequests of every shape: names, datatypes, shapes, contents, raw bytes,
    parameters (sequence ids for the stateful model), requested outputs."""
    odds = draw(st.integers(0, 9))
    name = draw(st.sampled_from(sorted(models)) if odds < 8 else TEXT)
    request = kpb.ModelInferRequest(model_name=name)
    request.model_version = draw(st.sampled_from(["", "", "1", "0", "-1", "v2", "99"]))
    for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):
        tensor = request.inputs.add()
        tensor.name = draw(st.sampled_from(["INPUT", "INPUT", "x", ""]))
        tensor.datatype = draw(st.sampled_from(DATATYPES))
        tensor.shape.extend(draw(st.lists(st.integers(-2, 70), max_size=3)))
        how = draw(st.integers(0, 5))
        if how == 0:
            tensor.contents.int64_contents.extend(draw(st.lists(INT64, max_size=20)))
        elif how == 1:
            tensor.contents.fp32_contents.extend(draw(st.lists(FLOATS.map(_f32), max_size=20)))
        elif how == 2:
            texts = draw(st.lists(st.one_of(st.binary(max_size=12), TEXT.map(str.encode))))
            tensor.contents.bytes_contents.extend(texts[:8])
        elif how == 3:
            request.raw_input_contents.append(draw(st.binary(max_size=160)))
        elif name in models:  # a well-formed tensor for the model
            info = models[name]
            item = valid_input(info, random.Random(draw(st.integers(0, 2**32))))
            tensor.name = "INPUT"
            if isinstance(item, str):
                tensor.datatype, tensor.shape[:] = "BYTES", [1]
                tensor.contents.bytes_contents.append(item.encode())
            else:
                tensor.datatype, tensor.shape[:] = "INT64", [1, len(item)]
                tensor.contents.int64_contents.extend(int(v) for v in item)
    if draw(st.booleans()):
        request.parameters["sequence_id"].int64_param = draw(st.sampled_from([0, 7, -1, 2**40]))
        request.parameters["sequence_start"].bool_param = draw(st.booleans())
        request.parameters["sequence_end"].bool_param = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        request.parameters["timeout"].int64_param = draw(st.sampled_from([0, 1, -5, 10**6]))
    if draw(st.integers(0, 4)) == 0:
        request.outputs.add().name = draw(st.sampled_from(["OUTPUT", "ROUNDED", "nope", ""]))
    return request


def _f32(value: float) -> float:
    """A float that fits float32 (protobuf refuses the rest at assignment)."""
    if math.isnan(value) or math.isinf(value) or abs(value) < 3e38:
        return value
    return math.copysign(math.inf, value)


def test_fuzz_kserve_infer(target: Target) -> None:
    infer = target.channel.unary_unary(
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=kpb.ModelInferRequest.SerializeToString,
        response_deserializer=kpb.ModelInferResponse.FromString,
    )

    @fuzz_settings("kserve")
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        request = data.draw(infer_requests(target.models))
        code = call_code(lambda: infer(request, timeout=TIMEOUT))
        check_code(code)

    run()


# ---------------------------------------------------------------- raw bytes


def methods() -> list[tuple[str, type[Message], bool, bool]]:
    """(path, request message, request streaming, response streaming) of every method."""
    out = []
    for module, service in (
        (pb, "SeqServe"),
        (kpb, "GRPCInferenceService"),
        (health_pb2, "Health"),
    ):
        descriptor = module.DESCRIPTOR.services_by_name[service]
        for method in descriptor.methods:
            message = getattr(module, method.input_type.name, None)
            if message is None:  # a message of another file
                continue
            out.append(
                (
                    f"/{descriptor.full_name}/{method.name}",
                    message,
                    method.client_streaming,
                    method.server_streaming,
                )
            )
    return out


METHODS = methods()
# Health/List is newer than the grpcio-health servicer (UNIMPLEMENTED); Check and Watch
# answer an unknown service name with NOT_FOUND / SERVICE_UNKNOWN.
EXTRA = {"List": frozenset({Code.UNIMPLEMENTED})}


def parses(message: type[Message], data: bytes) -> bool:
    try:
        message.FromString(data)
    except (DecodeError, RuntimeError, ValueError):
        return False
    return True


def valid_bytes(path: str, models: dict[str, pb.ModelInfo], rng: random.Random) -> bytes:
    """A well-formed request for the method (mutations of it make near-valid bytes)."""
    name = rng.choice(sorted(models))
    if path.endswith("SeqServe/Predict") or path.endswith("SeqServe/PredictStream"):
        item = valid_input(models[name], rng)
        return pb.PredictRequest(model=name, inputs=[as_message(item)]).SerializeToString()
    if path.endswith("SeqServe/GetModel"):
        return pb.GetModelRequest(name=name).SerializeToString()
    if path.endswith("SeqServe/Session"):
        return pb.SessionRequest(open=pb.SessionOpen(model="recall")).SerializeToString()
    if path.endswith("ModelReady") or path.endswith("ModelMetadata"):
        return kpb.ModelReadyRequest(name=name).SerializeToString()
    return b""


@st.composite
def raw_payloads(draw: st.DrawFn, models: dict[str, pb.ModelInfo]) -> tuple[int, bytes]:
    index = draw(st.integers(0, len(METHODS) - 1))
    path = METHODS[index][0]
    how = draw(st.integers(0, 3))
    if how == 0:
        return index, draw(st.binary(max_size=200))
    base = bytearray(valid_bytes(path, models, random.Random(draw(st.integers(0, 2**32)))))
    if how == 1 and base:  # flip bytes
        for _ in range(draw(st.integers(1, 4))):
            base[draw(st.integers(0, len(base) - 1))] = draw(st.integers(0, 255))
    elif how == 2 and base:  # truncate
        del base[draw(st.integers(0, len(base) - 1)) :]
    else:  # append junk
        base += draw(st.binary(max_size=30))
    return index, bytes(base)


def send_raw(channel: grpc.Channel, index: int, data: bytes) -> Code:
    path, _, client_streaming, server_streaming = METHODS[index]
    if client_streaming:
        call = channel.stream_stream(path)
        return call_code(lambda: list(call(iter([data]), timeout=TIMEOUT)))
    if server_streaming:
        stream = channel.unary_stream(path)
        timeout = 0.3 if path.endswith("Health/Watch") else TIMEOUT  # watches never end
        return call_code(lambda: list(stream(data, timeout=timeout)))
    unary = channel.unary_unary(path)
    return call_code(lambda: unary(data, timeout=TIMEOUT))


def test_fuzz_raw_bytes(target: Target) -> None:
    @fuzz_settings("raw")
    @given(payload=raw_payloads(target.models))
    def run(payload: tuple[int, bytes]) -> None:
        index, data = payload
        code = send_raw(target.channel, index, data)
        message = METHODS[index][1]
        extra = EXTRA.get(METHODS[index][0].rsplit("/", 1)[-1], frozenset())
        check_code(code, parseable=parses(message, data), extra=extra)

    run()


def test_raw_bytes_reach_every_method(target: Target) -> None:
    """Garbage to each method: INTERNAL (unparseable) and the server is fine after."""
    for index, (path, message, _, _) in enumerate(METHODS):
        data = b"\xff\xff\xff\xff\x0f"
        assert not parses(message, data), path
        code = send_raw(target.channel, index, data)
        assert code == Code.INTERNAL or code in EXTRA.get(path.rsplit("/", 1)[-1], ()), path
        TALLY.add(Code.INTERNAL)


def test_oversized_message_is_resource_exhausted(target: Target) -> None:
    big = pb.PredictRequest(model="addition", inputs=[pb.Input(text="1" * (5 << 20))])
    code = call_code(lambda: target.stub.Predict(big, timeout=TIMEOUT))
    assert code == Code.RESOURCE_EXHAUSTED
    TALLY.add(code)


# ---------------------------------------------------------------- abandoned calls


def test_fuzz_abandoned_calls(target: Target) -> None:
    """Calls cancelled or whose channel closes at a random moment; the server carries on."""
    rng = random.Random(11)
    names = sorted(target.models)

    @fuzz_settings("abandon")
    @given(delay=st.floats(0, 0.02), how=st.sampled_from(["cancel", "close", "session"]))
    def run(delay: float, how: str) -> None:
        channel = grpc.insecure_channel(target.server.target) if how == "close" else None
        stub = pb_grpc.SeqServeStub(channel or target.channel)
        if how == "session":
            opening = pb.SessionRequest(open=pb.SessionOpen(model="recall"))
            step = pb.SessionRequest(step=pb.SessionStep(symbol=1))
            call = stub.Session(iter([opening, step, step, step]), timeout=TIMEOUT)
        else:
            info = target.models[rng.choice(names)]
            request = pb.PredictRequest(
                model=info.name, inputs=[as_message(valid_input(info, rng)) for _ in range(8)]
            )
            call = stub.PredictStream(request, timeout=TIMEOUT)
        time.sleep(delay)
        if channel is not None:
            channel.close()
        else:
            call.cancel()
        code = call_code(lambda: list(call))
        check_code(code, extra=frozenset({Code.CANCELLED}))

    run()


# ---------------------------------------------------------------- afterwards


def test_server_alive_correct_and_lean_afterwards(target: Target) -> None:
    assert target.server.process.poll() is None, "server died"
    for request, expected in target.golden:
        answer = target.stub.Predict(request, timeout=TIMEOUT)
        assert len(answer.results) == len(expected), request.model
        assert all(map(matches, answer.results, expected)), request.model
    warm_up(target.stub, target.models, huge=False)  # measured as the baseline was
    time.sleep(0.5)
    rss_after = rss_bytes(target.server.process.pid)
    growth = rss_after / target.rss_before - 1
    print(
        f"\nfuzz: {TALLY.requests} requests, codes {dict(TALLY.codes)}, RSS "
        f"{target.rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB ({growth:+.1%})"
    )
    assert "UNKNOWN" not in TALLY.codes
    assert TALLY.requests >= FUZZ_EXAMPLES * 0.9
    assert growth < 0.10, f"RSS grew {growth:.1%}"
    assert not math.isnan(growth)
