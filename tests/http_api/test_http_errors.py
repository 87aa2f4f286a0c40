"""Every status of the error table as its one HTTP code, with `{"error": "..."}`; and what
only HTTP has: unknown routes and methods, bad JSON, content types, oversized bodies."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from reliability.poison import write_poisoned

if TYPE_CHECKING:
    from conftest import RunningServer

LIMIT = 65536
ECHO = {"inputs": [{"ints": {"values": [1, 2, 3, 4, 5]}}]}


@pytest.fixture(scope="module")
def strict(
    models_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    launch_server: Callable[..., RunningServer],
) -> RunningServer:
    """echo_vanilla; reverse with a corrupted graph (not ready); `poisoned`, whose runtime
    fails on inputs starting with 9; a queue of 2 items and a 64 KiB body limit."""
    repo = tmp_path_factory.mktemp("http-errors") / "models"
    write_poisoned(models_dir, repo)
    for name in ("echo_vanilla", "reverse"):
        newest = max(
            (models_dir / name).iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1
        )
        shutil.copytree(newest, repo / name / "1")
    graph = next((repo / "reverse" / "1").glob("*.onnx"))
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    return launch_server(
        repo, "--max-queue", "2", "--max-active-sequences", "1",
        "--max-message-bytes", str(LIMIT), "--http-body-timeout", "1",
    )  # fmt: skip


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    return str(body["error"])


def test_400_bad_input_names_what_is_allowed(http_url: str) -> None:
    message = error(
        httpx.post(f"{http_url}/v1/models/addition:predict", json={"inputs": [{"text": "3+"}]}), 400
    )
    assert "3+10" in message or "terms" in message  # the format the model accepts
    message = error(
        httpx.post(
            f"{http_url}/v2/models/addition/infer",
            json={"inputs": [{"name": "X", "datatype": "BYTES", "shape": [1, 1], "data": ["1+1"]}]},
        ),
        400,
    )
    assert "'INPUT'" in message


@pytest.mark.parametrize(
    ("body", "needle"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b'{"inputs": 3}', "list")],
)
def test_400_bad_json(http_url: str, body: bytes, needle: str) -> None:
    response = httpx.post(f"{http_url}/v2/models/addition/infer", content=body)
    assert needle in error(response, 400)


def test_400_v1_body_not_a_predict_request(http_url: str) -> None:
    response = httpx.post(f"{http_url}/v1/models/addition:predict", json={"inputz": []})
    assert "PredictRequest" in error(response, 400)


def test_404_unknown_model_route_and_405_method(http_url: str) -> None:
    assert "addition" in error(httpx.post(f"{http_url}/v1/models/nope:predict", json=ECHO), 404)
    assert "/v3/x" in error(httpx.get(f"{http_url}/v3/x"), 404)
    assert "DELETE" in error(httpx.delete(f"{http_url}/v1/models"), 405)


def test_415_content_type_and_encoding(http_url: str) -> None:
    for path in ("/v1/models/addition:predict", "/v2/models/addition/infer"):
        headers = {"content-type": "image/png"}
        response = httpx.post(f"{http_url}{path}", content=b"x", headers=headers)
        assert "application/json" in error(response, 415)
    response = httpx.post(
        f"{http_url}/v2/models/addition/infer", content=b"x", headers={"content-encoding": "gzip"}
    )
    assert "gzip" in error(response, 415)


def test_409_model_not_ready(strict: RunningServer) -> None:
    body = {"inputs": [{"ints": {"values": [1, 2, 3, 4, 5, 6]}}]}
    message = error(httpx.post(f"{strict.http_url}/v1/models/reverse:predict", json=body), 409)
    assert "not ready" in message and "SHA-256" in message
    ready = httpx.get(f"{strict.http_url}/v2/models/reverse/ready")
    assert ready.status_code == 400 and ready.json()["ready"] is False


def test_413_over_the_body_limit(strict: RunningServer) -> None:
    big = {"inputs": [{"text": "1+1"}] * (LIMIT // 10)}
    message = error(httpx.post(f"{strict.http_url}/v1/models/echo_vanilla:predict", json=big), 413)
    assert str(LIMIT) in message and "max_message_bytes" in message

    def chunked():  # no Content-Length: counted while it arrives
        for _ in range(LIMIT // 1024 + 2):
            yield b" " * 1024

    response = httpx.post(f"{strict.http_url}/v1/models/echo_vanilla:predict", content=chunked())
    assert str(LIMIT) in error(response, 413)


def test_429_overload_with_retry_after(strict: RunningServer) -> None:
    body = {"inputs": ECHO["inputs"] * 4}  # 4 items into a queue of 2
    response = httpx.post(f"{strict.http_url}/v1/models/echo_vanilla:predict", json=body)
    assert "retry later" in error(response, 429)
    assert response.headers["seqserve-reason"] == "overloaded"
    assert int(response.headers["retry-after"]) >= 1
    assert (
        httpx.post(f"{strict.http_url}/v1/models/echo_vanilla:predict", json=ECHO).status_code
        == 200
    )


def test_500_runtime_failure_gives_a_request_id_and_no_internals(strict: RunningServer) -> None:
    body = {"inputs": [{"ints": {"values": [9, 1, 2, 3, 4]}}]}
    response = httpx.post(
        f"{strict.http_url}/v1/models/poisoned:predict",
        json=body,
        headers={"x-request-id": "boom-1"},
    )
    message = error(response, 500)
    assert message == "internal error (request id boom-1)"
    assert "boom-1" in strict.log and "Traceback" in strict.log
    ok = {"inputs": [{"ints": {"values": [1, 2, 7, 3, 4]}}]}
    answer = httpx.post(f"{strict.http_url}/v1/models/poisoned:predict", json=ok).json()
    assert answer["results"][0]["ints"]["values"] == ["7"]


def test_504_request_timeout(strict: RunningServer) -> None:
    body = {
        "parameters": {"timeout": 1},  # Triton's per-request timeout, in microseconds
        "inputs": [
            {"name": "INPUT", "datatype": "INT64", "shape": [1, 5], "data": [1, 2, 3, 4, 5]}
        ],
    }
    response = httpx.post(f"{strict.http_url}/v2/models/echo_vanilla/infer", json=body)
    assert "deadline" in error(response, 504)


def test_503_while_starting_with_retry_after(
    models_dir: Path, launch_server: Callable[..., RunningServer]
) -> None:
    server = launch_server(models_dir, "--warmup-runs", "400", wait=False)  # slow to load
    seen: list[tuple[int, int]] = []  # (predict, ready) statuses until both are 200
    with httpx.Client(base_url=server.http_url) as client:
        while not seen or seen[-1] != (200, 200):
            response = client.post(
                "/v1/models/addition:predict", json={"inputs": [{"text": "3+10"}]}
            )
            if response.status_code == 503:
                assert "starting" in response.json()["error"] and response.headers["retry-after"]
            seen.append((response.status_code, client.get("/v2/health/ready").status_code))
    assert seen[0] == (503, 503) and {code for pair in seen for code in pair} == {200, 503}


def test_grpc_timeout_header_is_the_call_deadline(http_url: str) -> None:
    for path, body in (
        ("/v1/models/reverse:predict", {"inputs": [{"ints": {"values": [1, 2, 3, 4, 5, 6]}}]}),
        ("/v2/models/reverse/generate", {"INPUT": [1, 2, 3, 4, 5, 6]}),
    ):
        late = httpx.post(f"{http_url}{path}", json=body, headers={"grpc-timeout": "1n"})
        assert "deadline" in error(late, 504)
        ok = httpx.post(f"{http_url}{path}", json=body, headers={"grpc-timeout": "30S"})
        assert ok.status_code == 200
    bad = httpx.post(
        f"{http_url}/v1/models/reverse:predict", json={}, headers={"grpc-timeout": "soon"}
    )
    assert "500m" in error(bad, 400)
