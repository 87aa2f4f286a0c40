"""TLS, mutual TLS and bearer tokens with certificates made here; reflection off; limits.

Right certificate and token pass; a wrong CA, no client certificate, a wrong or missing
token are refused with the right code. Health stays open without a token. Every limit
answers at once with its code and names itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from seqserve.client import TLS, Client, Unauthenticated, Unavailable
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .pki import Authority

if TYPE_CHECKING:
    from conftest import RunningServer

TOKENS = ("first-token-1234", "second-token-5678")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca, rogue = Authority(folder, "ca"), Authority(folder, "rogue")
    server, client = ca.issue("server", server=True), ca.issue("client", server=False)
    stranger = rogue.issue("client", server=False)
    return {
        "ca": ca.ca,
        "rogue_ca": rogue.ca,
        "server_cert": server.cert,
        "server_key": server.key,
        "client_cert": client.cert,
        "client_key": client.key,
        "stranger_cert": stranger.cert,
        "stranger_key": stranger.key,
    }


@pytest.fixture(scope="module")
def secured(
    repo: Path, pki: dict[str, Path], launch_server: Callable[..., RunningServer], tmp_path_factory
) -> RunningServer:
    tokens = tmp_path_factory.mktemp("tokens") / "tokens"
    tokens.write_text(f"# accepted\n{TOKENS[0]}\n\n# rotated in\n{TOKENS[1]}\n")
    flags = ["--tls-cert", str(pki["server_cert"]), "--tls-key", str(pki["server_key"])]
    flags += ["--tls-client-ca", str(pki["ca"]), "--auth-tokens-file", str(tokens)]
    server = launch_server(repo, *flags, "--no-reflection", wait=False)
    tls = TLS(ca=pki["ca"], cert=pki["client_cert"], key=pki["client_key"])
    with Client(server.target, tls=tls, token=TOKENS[0], timeout=30, wait_for_ready=True) as c:
        deadline = time.monotonic() + 60
        while c.health().status != "SERVING":  # health needs no token
            assert time.monotonic() < deadline, "the TLS server never became SERVING"
            time.sleep(0.05)
    return server


def mtls(pki: dict[str, Path], *, ca: str = "ca", cert: str | None = "client") -> TLS:
    if cert is None:
        return TLS(ca=pki[ca])
    return TLS(ca=pki[ca], cert=pki[f"{cert}_cert"], key=pki[f"{cert}_key"])


@pytest.mark.parametrize("token", TOKENS)
def test_right_certificate_and_token_pass(
    secured: RunningServer, pki: dict[str, Path], token: str
) -> None:
    with Client(secured.target, tls=mtls(pki), token=token, timeout=10) as client:
        assert client.predict("addition", "3+10").text is not None
        assert client.health().status == "SERVING"


@pytest.mark.parametrize("token", [None, "wrong-token", TOKENS[0][:-1], TOKENS[0] + "x"])
def test_missing_or_wrong_token_is_unauthenticated(
    secured: RunningServer, pki: dict[str, Path], token: str | None
) -> None:
    with Client(secured.target, tls=mtls(pki), token=token, timeout=10) as client:
        with pytest.raises(Unauthenticated) as raised:
            client.predict("addition", "3+10")
        assert raised.value.code == "UNAUTHENTICATED"
        assert token is None or token not in raised.value.message
        assert client.health().status == "SERVING"  # health checks need no token


@pytest.mark.parametrize("tls", [{"ca": "rogue_ca"}, {"cert": None}, {"cert": "stranger"}], ids=str)
def test_wrong_ca_or_client_certificate_is_refused(
    secured: RunningServer, pki: dict[str, Path], tls: dict[str, str | None]
) -> None:
    settings = mtls(pki, **tls)  # type: ignore[arg-type]
    client = Client(secured.target, tls=settings, token=TOKENS[0], timeout=5)
    with client, pytest.raises(Unavailable):  # the handshake fails: no call reaches the server
        client.predict("addition", "3+10")


def test_plaintext_to_tls_port_is_refused(secured: RunningServer) -> None:
    client = Client(secured.target, token=TOKENS[0], timeout=5)
    with client, pytest.raises(Unavailable):
        client.models()


def test_unauthenticated_bytes_are_never_parsed(
    secured: RunningServer, pki: dict[str, Path]
) -> None:
    """Garbage without a token: UNAUTHENTICATED, not a parse error."""
    credentials = grpc.ssl_channel_credentials(
        pki["ca"].read_bytes(), pki["client_key"].read_bytes(), pki["client_cert"].read_bytes()
    )
    with grpc.secure_channel(secured.target, credentials) as channel:
        call = channel.unary_unary("/seqserve.v1.SeqServe/Predict")
        with pytest.raises(grpc.RpcError) as raised:
            call(b"\xff\xff\xff", timeout=5)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reflection = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        )
        metadata = (("authorization", f"Bearer {TOKENS[0]}"),)
        with pytest.raises(grpc.RpcError) as raised:
            list(reflection(iter([b""]), timeout=5, metadata=metadata))
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED  # --no-reflection
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert secured.process.poll() is None


def test_plaintext_off_loopback_warns(
    repo: Path, launch_server: Callable[..., RunningServer]
) -> None:
    server = launch_server(repo, "--host", "0.0.0.0")
    assert "serving PLAINTEXT on non-loopback address 0.0.0.0" in server.log
    server.stop()


# ---------------------------------------------------------------- limits


@pytest.fixture(scope="module")
def limited(repo: Path, launch_server: Callable[..., RunningServer]) -> RunningServer:
    return launch_server(
        repo,
        *("--max-batch-items", "4", "--max-input-length", "64", "--max-sessions", "2"),
        *("--max-message-bytes", "65536", "--session-idle-timeout", "60"),
    )


def code_and_details(fn: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    try:
        fn()
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def test_limits_answer_at_once_and_name_themselves(limited: RunningServer) -> None:
    with grpc.insecure_channel(limited.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        item = pb.Input(text="3+10")

        def predict(*inputs: pb.Input) -> object:
            return stub.Predict(pb.PredictRequest(model="addition", inputs=inputs), timeout=5)

        code, details = code_and_details(lambda: predict(*[item] * 5))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "limit of 4" in details
        code, details = code_and_details(lambda: predict(pb.Input(text="1" * 65)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "max_input_length" in details
        code, details = code_and_details(lambda: predict(pb.Input(text="1" * 70_000)))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "65536" in details
        assert predict(item) is not None
        opening = pb.SessionRequest(open=pb.SessionOpen(model="recall"))
        for _ in range(2):  # the stream ends, the session stays open until it idles out
            assert next(stub.Session(iter([opening]), timeout=5)).opened.session_id
        code, details = code_and_details(lambda: list(stub.Session(iter([opening]), timeout=5)))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "session limit" in details
    assert limited.process.poll() is None
