"""Bearer tokens and TLS on the HTTP port follow the gRPC port's settings."""

from __future__ import annotations

import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import gevent.ssl
import httpx
import numpy as np
import pytest
import tritonclient.http as triton_http
from reliability.pki import Authority, Issued

if TYPE_CHECKING:
    from conftest import RunningServer

TOKEN = "http-token-0123456789"
PREDICT = {"inputs": [{"text": "3+10"}]}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Authority, Issued]:
    authority = Authority(tmp_path_factory.mktemp("http-pki"), "http-ca")
    return authority, authority.issue("localhost", server=True)


@pytest.fixture(scope="module")
def secured(
    models_dir: Path, pki: tuple[Authority, Issued], launch_server: Callable[..., RunningServer]
) -> RunningServer:
    _, issued = pki
    flags = ["--tls-cert", str(issued.cert), "--tls-key", str(issued.key), "--auth-tokens", TOKEN]
    server = launch_server(models_dir, *flags, wait=False)
    deadline = time.monotonic() + 60
    with httpx.Client(
        base_url=https(server), verify=ssl.create_default_context(cafile=pki[0].ca)
    ) as client:
        while client.get("/v2/health/ready").status_code != 200:  # HTTP readiness, over TLS
            assert time.monotonic() < deadline, server.log
            time.sleep(0.05)
    return server


def https(server: RunningServer) -> str:
    return f"https://127.0.0.1:{server.http_port}"


def test_tokens_over_tls(secured: RunningServer, pki: tuple[Authority, Issued]) -> None:
    ca = str(pki[0].ca)
    with httpx.Client(
        base_url=https(secured), verify=ssl.create_default_context(cafile=ca)
    ) as client:
        assert client.get("/v2/health/ready").status_code == 200  # probes need no token
        assert client.get("/").status_code == 200  # the page asks for the token itself
        missing = client.post("/v1/models/addition:predict", json=PREDICT)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in missing.json()["error"]
        wrong = {"authorization": "Bearer nope"}
        assert client.get("/v2/models/addition", headers=wrong).status_code == 401
        good = {"authorization": f"Bearer {TOKEN}"}
        answer = client.post("/v1/models/addition:predict", json=PREDICT, headers=good)
        assert answer.status_code == 200 and answer.json()["results"][0]["text"] == "13"
    done = subprocess.run(
        ["curl", "-s", "--cacert", ca, "-H", f"Authorization: Bearer {TOKEN}", "-d",
         '{"inputs":[{"text":"3+10"}]}', f"{https(secured)}/v1/models/addition:predict"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert '"13"' in done.stdout


def test_plaintext_to_a_tls_port_fails(secured: RunningServer) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{secured.http_port}/v2/health/ready", timeout=5)


def test_tritonclient_http_with_tls_and_token(
    secured: RunningServer, pki: tuple[Authority, Issued]
) -> None:
    ca = str(pki[0].ca)
    client = triton_http.InferenceServerClient(
        f"127.0.0.1:{secured.http_port}",
        ssl=True,
        ssl_context_factory=lambda: gevent.ssl.create_default_context(cafile=ca),
    )
    try:
        tensor = triton_http.InferInput("INPUT", [1, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([[b"3+10"]], dtype=np.object_))
        result = client.infer("addition", [tensor], headers={"Authorization": f"Bearer {TOKEN}"})
        assert result.as_numpy("OUTPUT")[0, 0] == b"13"
        with pytest.raises(Exception, match="bearer token"):
            client.infer("addition", [tensor])
    finally:
        client.close()


def test_mutual_tls_needs_a_client_certificate(
    models_dir: Path, pki: tuple[Authority, Issued], launch_server: Callable[..., RunningServer]
) -> None:
    authority, issued = pki
    client = authority.issue("http-client", server=False)
    flags = ["--tls-cert", str(issued.cert), "--tls-key", str(issued.key)]
    server = launch_server(models_dir, *flags, "--tls-client-ca", str(authority.ca), wait=False)
    with_cert = ssl.create_default_context(cafile=authority.ca)
    with_cert.load_cert_chain(client.cert, client.key)
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=https(server), verify=with_cert) as good:
        while good.get("/v2/health/ready").status_code != 200:
            assert time.monotonic() < deadline, server.log
            time.sleep(0.05)
        answer = good.post("/v1/models/addition:predict", json=PREDICT).json()
        assert answer["results"][0]["text"] == "13"
    without = ssl.create_default_context(cafile=authority.ca)
    with pytest.raises(httpx.HTTPError):  # the handshake fails: no call reaches the server
        httpx.get(f"{https(server)}/v2/health/ready", verify=without, timeout=5)
