"""Channel settings: targets, service config, credentials, metadata (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqserve.client import TLS, SeqServeError
from seqserve.client._channel import (
    as_tls,
    call_metadata,
    channel_options,
    resolve_target,
    service_config,
)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("localhost:50051", "localhost:50051"),
        ("dns:///seqserve-headless:50051", "dns:///seqserve-headless:50051"),
        ("ipv4:10.0.0.1:1,10.0.0.2:2", "ipv4:10.0.0.1:1,10.0.0.2:2"),
        ("10.0.0.1:50051,10.0.0.2:50052", "ipv4:10.0.0.1:50051,10.0.0.2:50052"),
        (" 10.0.0.1:1 , 10.0.0.2:2 ", "ipv4:10.0.0.1:1,10.0.0.2:2"),
        ("[::1]:50051,[::1]:50052", "ipv6:[::1]:50051,[::1]:50052"),
        ("localhost:50051,127.0.0.1:50052", "ipv4:127.0.0.1:50051,127.0.0.1:50052"),
    ],
)
def test_targets(target: str, expected: str) -> None:
    assert resolve_target(target) == expected


@pytest.mark.parametrize("target", ["", "a:1,b", "a:1,:2", "10.0.0.1:1,[::1]:2"])
def test_bad_targets(target: str) -> None:
    with pytest.raises(SeqServeError):
        resolve_target(target)


def test_service_config_round_robin_and_retries_for_idempotent_calls_only() -> None:
    config = json.loads(service_config())
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    (method,) = config["methodConfig"]
    names = {(n["service"], n.get("method")) for n in method["name"]}
    assert names == {
        ("seqserve.v1.SeqServe", "ListModels"),
        ("seqserve.v1.SeqServe", "GetModel"),
        ("seqserve.v1.SeqServe", "Predict"),
        ("seqserve.v1.SeqServe", "PredictStream"),
        ("grpc.health.v1.Health", None),
    }  # no Session: it holds server-side state
    assert method["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE", "CANCELLED"]
    assert method["retryPolicy"]["maxAttempts"] >= 3


def test_options() -> None:
    options = dict(channel_options("a.example:1,b.example:1", None))
    assert options["grpc.default_authority"] == "a.example:1"
    assert options["grpc.keepalive_time_ms"] >= 10_000
    assert options["grpc.max_receive_message_length"] >= 4 * 1024 * 1024
    named = dict(channel_options("127.0.0.1:1", TLS(server_name="seqserve.internal")))
    assert named["grpc.ssl_target_name_override"] == "seqserve.internal"


def test_tls_settings(tmp_path: Path) -> None:
    assert as_tls(None) is None and as_tls(False) is None
    assert as_tls(True) == TLS()
    assert as_tls("ca.pem") == TLS(ca="ca.pem")
    with pytest.raises(SeqServeError, match="cannot read"):
        TLS(ca=tmp_path / "missing.pem").credentials()
    with pytest.raises(SeqServeError, match="go together"):
        TLS(cert=b"x").credentials()


def test_token_metadata() -> None:
    assert call_metadata(None) == ()
    assert call_metadata(" s3cret\n") == (("authorization", "Bearer s3cret"),)
