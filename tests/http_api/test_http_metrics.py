"""HTTP calls count in the same request metrics as gRPC ones, with `protocol="http"`, the
HTTP status as `code` and the gRPC method the route stands for as `method`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import httpx
from e2e.metrics_support import free_port, scrape, total

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from conftest import RunningServer


def test_protocol_label(models_dir: Path, launch_server: Callable[..., RunningServer]) -> None:
    port = free_port()
    server = launch_server(models_dir, "--metrics-port", str(port))
    body = {"inputs": [{"text": "3+10"}]}
    for _ in range(3):
        assert httpx.post(f"{server.http_url}/v1/models/addition:predict", json=body).is_success
    assert httpx.post(f"{server.http_url}/v1/models/nope:predict", json=body).status_code == 404
    with grpc.insecure_channel(server.target) as channel:
        request = pb.PredictRequest(model="addition", inputs=[pb.Input(text="3+10")])
        pb_grpc.SeqServeStub(channel).Predict(request)
    samples = scrape(port)
    name = "seqserve_requests_total"
    http_ok = {"protocol": "http", "method": "Predict", "model": "addition", "code": "200"}
    assert total(samples, name, **http_ok) == 3
    assert total(samples, name, protocol="http", model="_unknown", code="404") == 1
    assert total(samples, name, protocol="grpc", method="Predict", code="OK") == 1
