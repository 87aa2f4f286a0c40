"""HTTP/2-level attacks with raw `h2` frames: rapid reset by a peer without a token, and
stream floods on one connection.

The well-behaved caller's rate is measured against a baseline taken in the same test on
the same server, over the same wall-clock window; the attacker runs in a child process at
the lowest CPU priority (it stands for another machine: on a 2-core box its own framing
work would otherwise be what slows the caller). `make fuzz` runs the attack for
`SEQSERVE_ATTACK_SECONDS` (10) and holds the documented bound of 75%; the short CI run (2 s)
holds a wider margin.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from seqserve.client import Client
from seqserve.server.settings import Settings

from .conftest import rss_bytes
from .h2attack import PREDICT, WATCH, predict_body, rapid_reset, run_in_process, stream_flood

if TYPE_CHECKING:
    from conftest import RunningServer

TOKEN = "http2-attack-token-0123456789"
GOOD = [0, 1, 7, 3, 4]  # echo_vanilla answers 7
STREAM_LIMIT = Settings.model_fields["max_streams_per_connection"].default
ATTACK_SECONDS = float(os.environ.get("SEQSERVE_ATTACK_SECONDS", "2"))


@pytest.fixture(scope="module")
def secured(
    repo: Path,
    launch_server: Callable[..., RunningServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> RunningServer:
    tokens = tmp_path_factory.mktemp("tokens") / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    return launch_server(repo, "--auth-tokens-file", str(tokens))


def calls_in(target: str, seconds: float) -> tuple[int, list[str]]:
    """Predict calls one authenticated caller completes in `seconds`, and its errors."""
    done, errors = 0, []
    with Client(target, token=TOKEN, timeout=10) as client:
        client.predict("echo_vanilla", GOOD)  # connected and warm before the window
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                assert client.predict("echo_vanilla", GOOD).ints == (7,)
                done += 1
            except Exception as exc:
                errors.append(repr(exc))
    return done, errors


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rapid_reset_holds(server: RunningServer, window: float, bound: float) -> None:
    host, port = server.target.rsplit(":", 1)
    baseline, errors = calls_in(server.target, window)
    assert baseline > 0 and not errors
    cpu = cpu_seconds(server.process.pid)
    report = run_in_process(rapid_reset, host, int(port), window + 1.0)
    time.sleep(0.5)  # the attack is under way
    during, errors = calls_in(server.target, window)
    attack = report()
    ratio = during / baseline
    print(
        f"\nrapid reset: {attack.streams} streams reset in {window + 1:.0f} s over "
        f"{attack.connections} connection(s); caller {during}/{baseline} calls "
        f"({ratio:.0%}); server CPU {cpu_seconds(server.process.pid) - cpu:.2f} s"
    )
    assert attack.streams > 1000, attack  # the attack was real
    assert not errors, errors[:3]  # no CANCELLED, no UNAVAILABLE: every call answered
    assert ratio >= bound, f"caller kept {ratio:.0%} of its rate, bound {bound:.0%}"
    assert server.process.poll() is None


def test_rapid_reset_without_a_token_leaves_callers_their_rate(secured: RunningServer) -> None:
    long = ATTACK_SECONDS >= 10  # make fuzz: the documented bound, averaged over longer
    rapid_reset_holds(secured, window=ATTACK_SECONDS, bound=0.75 if long else 0.5)


def test_one_connection_holds_a_bounded_number_of_streams(secured: RunningServer) -> None:
    host, port = secured.target.rsplit(":", 1)
    before = rss_bytes(secured.process.pid)
    metadata = ("authorization", f"Bearer {TOKEN}")
    watch = b"\x00\x00\x00\x00\x00"  # an empty HealthCheckRequest
    report = run_in_process(stream_flood, host, int(port), WATCH, watch, 20_000, metadata)()
    assert report.max_concurrent_streams == STREAM_LIMIT
    assert report.open_streams_max <= STREAM_LIMIT
    assert rss_bytes(secured.process.pid) - before < 32 * 1024 * 1024
    flood = run_in_process(stream_flood, host, int(port), PREDICT, predict_body(), 1000)()
    assert flood.open_streams_max <= STREAM_LIMIT
    assert calls_in(secured.target, 0.2)[1] == []


def test_health_check_is_open_but_watch_and_unknown_methods_need_a_token(
    secured: RunningServer,
) -> None:
    with grpc.insecure_channel(secured.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as raised:
            next(health.Watch(health_pb2.HealthCheckRequest(), timeout=5))
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        for method in ("/seqserve.v1.SeqServe/NoSuchMethod", "/no.such.Service/Call"):
            with pytest.raises(grpc.RpcError) as raised:
                channel.unary_unary(method)(b"", timeout=5)
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED  # not UNIMPLEMENTED
        metadata = (("authorization", f"Bearer {TOKEN}"),)
        with pytest.raises(grpc.RpcError) as raised:
            channel.unary_unary("/seqserve.v1.SeqServe/NoSuchMethod")(
                b"", timeout=5, metadata=metadata
            )
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
