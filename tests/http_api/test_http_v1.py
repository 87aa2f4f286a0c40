"""seqserve.v1 over JSON and the generate extension: curl on the documented calls, server-sent
events read by httpx as they arrive, answers equal to the gRPC ones."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

REVERSE = [3, 9, 27, 1, 5, 8]


def curl(*args: str) -> tuple[int, dict[str, str], str]:
    """`curl -s -i ARGS`: the status, the headers (lower-case names) and the body."""
    done = subprocess.run(["curl", "-s", "-i", *args], capture_output=True, text=True, timeout=30)
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *lines = head.split("\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def events(response: httpx.Response) -> list[tuple[str, Any]]:
    """The (event, data) pairs of a server-sent event stream, read as they arrive."""
    out: list[tuple[str, Any]] = []
    name = "message"
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            out.append((name, json.loads(line.removeprefix("data: "))))
            name = "message"
    return out


def test_curl_predict_text_in_text_out(http_url: str) -> None:
    status, headers, body = curl(
        "-d", '{"inputs":[{"text":"3+10"}]}', f"{http_url}/v1/models/addition:predict"
    )
    assert status == 200 and headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["model"] == "addition" and answer["results"][0]["text"] == "13"
    assert len(answer["results"][0]["confidence"]) == 2
    assert len(headers["x-request-id"]) == 16


def test_request_id_in_and_out(http_url: str) -> None:
    status, headers, _ = curl("-H", "x-request-id: trace-42", f"{http_url}/v1/models")
    assert status == 200 and headers["x-request-id"] == "trace-42"
    status, headers, _ = curl("-H", "x-request-id: trace-43", f"{http_url}/v1/models/nope")
    assert status == 404 and headers["x-request-id"] == "trace-43"


def test_list_and_get_models_match_grpc(http_url: str, v1_stub: pb_grpc.SeqServeStub) -> None:
    listed = httpx.get(f"{http_url}/v1/models").json()
    grpc_listed = v1_stub.ListModels(pb.ListModelsRequest())
    assert [m["info"]["name"] for m in listed["models"]] == [
        m.info.name for m in grpc_listed.models
    ]
    assert all(m["ready"] for m in listed["models"])
    one = httpx.get(f"{http_url}/v1/models/reverse").json()
    assert one["info"]["kind"] == "SERVING_KIND_SEQ2SEQ" and one["versions"] == [
        str(v)
        for v in grpc_listed.models[
            [m.info.name for m in grpc_listed.models].index("reverse")
        ].versions
    ]


def test_predict_ints_in_protobuf_json(http_url: str, v1_stub: pb_grpc.SeqServeStub) -> None:
    body = {"inputs": [{"ints": {"values": REVERSE}}, {"ints": {"values": [1, 2, 3, 4, 5, 6]}}]}
    answer = httpx.post(f"{http_url}/v1/models/reverse:predict", json=body).json()
    expected = v1_stub.Predict(
        pb.PredictRequest(
            model="reverse",
            inputs=[pb.Input(ints=pb.Ints(values=v["ints"]["values"])) for v in body["inputs"]],
        )
    )
    got = [[int(v) for v in r["ints"]["values"]] for r in answer["results"]]
    assert got == [list(r.ints.values) for r in expected.results] == [[27, 9, 3], [3, 2, 1]]
    regress = httpx.post(
        f"{http_url}/v1/models/sum_regression:predict",
        json={"inputs": [{"values": {"values": [20, 30]}}]},
    ).json()
    assert regress["results"][0]["rounded"] == "50"  # int64 in protobuf JSON: a string


def test_stream_sends_each_symbol_then_the_result(http_url: str) -> None:
    body = {"inputs": [{"ints": {"values": REVERSE}}]}
    with httpx.stream("POST", f"{http_url}/v1/models/reverse:stream", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        got = events(response)
    symbols = [data["symbol"] for name, data in got if "symbol" in data]
    assert [int(s["symbol"]) for s in symbols] == [27, 9, 3]
    assert [s.get("position", 0) for s in symbols] == [0, 1, 2]
    name, last = got[-1]
    assert name == "message" and last["result"]["results"][0]["ints"]["values"] == ["27", "9", "3"]


def test_stream_of_a_batch_model_sends_the_result(http_url: str) -> None:
    with httpx.stream(
        "POST", f"{http_url}/v1/models/addition:stream", json={"inputs": [{"text": "3+10"}]}
    ) as response:
        got = events(response)
    assert len(got) == 1 and got[0][1]["result"]["results"][0]["text"] == "13"


def test_generate_and_generate_stream(http_url: str) -> None:
    answer = httpx.post(f"{http_url}/v2/models/addition/generate", json={"INPUT": "3+10"}).json()
    assert answer["model_name"] == "addition" and answer["OUTPUT"] == "13"
    assert len(answer["CONFIDENCE"]) == 2
    with httpx.stream(
        "POST", f"{http_url}/v2/models/reverse/generate_stream", json={"INPUT": REVERSE}
    ) as response:
        got = [data for _, data in events(response)]
    assert [d["OUTPUT"] for d in got[:-1]] == [27, 9, 3]
    assert [d["position"] for d in got[:-1]] == [0, 1, 2]
    assert got[-1]["OUTPUT"] == [27, 9, 3] and got[-1]["triton_final_response"] is True


def test_stream_errors_before_the_first_event_are_http_errors(http_url: str) -> None:
    response = httpx.post(
        f"{http_url}/v1/models/reverse:stream", json={"inputs": [{"ints": {"values": [1]}}]}
    )
    assert response.status_code == 400 and "6" in response.json()["error"]
    response = httpx.post(f"{http_url}/v2/models/nope/generate_stream", json={"INPUT": "1"})
    assert response.status_code == 404 and "nope" in response.json()["error"]


@pytest.mark.parametrize(
    "path", ["/v2/health/live", "/v2/health/ready", "/v2/models/addition/ready"]
)
def test_health_routes(http_url: str, path: str) -> None:
    status, _, body = curl(f"{http_url}{path}")
    assert status == 200 and json.loads(body)
