"""Request ids, access log and structured logs, against real servers.

Every call carries an `x-request-id`: the caller's, or one the server makes up. It comes
back in the trailing metadata (and in the initial metadata of streamed answers), and it
is on every log line written while the call is served.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from ..conftest import ints

HEADER = "x-request-id"
GENERATED = re.compile(r"^[0-9a-f]{16}$")


def _predict(target: str, request: pb.PredictRequest, rid: str | None = None) -> Any:
    """(code, trailing metadata as a dict) of one Predict call."""
    metadata = ((HEADER, rid),) if rid is not None else ()
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        try:
            _, call = stub.Predict.with_call(request, metadata=metadata, timeout=10)
            return grpc.StatusCode.OK, dict(call.trailing_metadata())
        except grpc.RpcError as exc:
            return exc.code(), dict(exc.trailing_metadata())


def _addition(text: str = "3+10") -> pb.PredictRequest:
    return pb.PredictRequest(model="addition", inputs=[pb.Input(text=text)])


def _lines(server: Any, rid: str, deadline: float = 5.0) -> list[dict[str, Any]]:
    """The JSON log lines of `server` that carry request id `rid` (waits for them a bit)."""
    until = time.monotonic() + deadline
    while True:
        found = []
        for line in server.log.splitlines():
            if line.startswith("{") and rid in line:
                entry = json.loads(line)
                if entry.get("request_id") == rid:
                    found.append(entry)
        if found or time.monotonic() > until:
            return found
        time.sleep(0.05)


@pytest.fixture(scope="module")
def json_server(models_dir: Path, launch_server: Callable[..., Any]) -> Any:
    """JSON logs, access log at its default level (DEBUG: not shown)."""
    return launch_server(models_dir, "--log-json")


@pytest.fixture(scope="module")
def access_server(models_dir: Path, launch_server: Callable[..., Any]) -> Any:
    """JSON logs with the access log raised to INFO."""
    return launch_server(models_dir, "--log-json", "--log-access")


def test_the_callers_request_id_is_echoed_on_success_and_on_error(server_target: str) -> None:
    code, trailing = _predict(server_target, _addition(), "req-42")
    assert code == grpc.StatusCode.OK and trailing[HEADER] == "req-42"
    bad = pb.PredictRequest(model="addition", inputs=[ints(1, 2)])
    code, trailing = _predict(server_target, bad, "req-43")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and trailing[HEADER] == "req-43"


def test_a_request_id_is_generated_when_absent_or_unusable(server_target: str) -> None:
    ids = {_predict(server_target, _addition())[1][HEADER] for _ in range(3)}
    assert len(ids) == 3 and all(GENERATED.match(i) for i in ids)
    replaced = _predict(server_target, _addition(), "x" * 200)[1][HEADER]
    assert GENERATED.match(replaced)


def test_streamed_answers_carry_the_id_in_initial_metadata(server_target: str) -> None:
    request = pb.PredictRequest(model="reverse", inputs=[ints(1, 2, 3, 4, 5, 6)])
    with grpc.insecure_channel(server_target) as channel:
        call = pb_grpc.SeqServeStub(channel).PredictStream(
            request, metadata=((HEADER, "stream-1"),), timeout=10
        )
        assert dict(call.initial_metadata())[HEADER] == "stream-1"
        assert len(list(call)) >= 4  # three symbols, then the result
        assert dict(call.trailing_metadata())[HEADER] == "stream-1"


def test_access_log_has_id_model_status_and_duration(access_server: Any) -> None:
    assert _predict(access_server.target, _addition(), "access-1")[0] == grpc.StatusCode.OK
    (entry,) = _lines(access_server, "access-1")
    assert entry["logger"] == "seqserve.server.access" and entry["level"] == "INFO"
    assert (entry["method"], entry["model"], entry["code"]) == ("Predict", "addition", "OK")
    assert 0 < entry["duration_ms"] < 10_000
    assert entry["peer"].startswith("ipv4:127.0.0.1:")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", entry["time"])


def test_successful_calls_are_not_logged_by_default(json_server: Any) -> None:
    assert _predict(json_server.target, _addition(), "quiet-1")[0] == grpc.StatusCode.OK
    assert _lines(json_server, "quiet-1", deadline=0.5) == []


def test_a_failed_call_is_logged_once_with_its_id(json_server: Any) -> None:
    bad = pb.PredictRequest(model="addition", inputs=[pb.Input(text="3+x")])
    assert _predict(json_server.target, bad, "fails-1")[0] == grpc.StatusCode.INVALID_ARGUMENT
    (entry,) = _lines(json_server, "fails-1")
    assert (entry["code"], entry["model"], entry["level"]) == (
        "INVALID_ARGUMENT",
        "addition",
        "INFO",
    )
    assert (
        "outside" in entry["message"] or "alphabet" in entry["message"] or ":" in entry["message"]
    )


def test_server_lines_outside_calls_have_no_request_id(json_server: Any) -> None:
    startup = [json.loads(line) for line in json_server.log.splitlines() if line.startswith("{")]
    assert any(e["message"].startswith("serving ") for e in startup)
    assert all(e["request_id"] == "-" for e in startup if e["logger"] == "seqserve.server")


def test_human_log_lines_show_the_request_id(
    models_dir: Path, launch_server: Callable[..., Any]
) -> None:
    server = launch_server(models_dir, "--log-access")
    assert _predict(server.target, _addition(), "human-1")[0] == grpc.StatusCode.OK
    until = time.monotonic() + 5
    while "[human-1]" not in server.log and time.monotonic() < until:
        time.sleep(0.05)
    (line,) = [line for line in server.log.splitlines() if "[human-1]" in line]
    assert " INFO seqserve.server.access [human-1] Predict model=addition code=OK " in line
