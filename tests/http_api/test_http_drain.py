"""SIGTERM with an HTTP call in flight: the server waits for it, readiness is off and new
calls get 503 meanwhile, then it exits 0. A call whose body is still arriving when draining
starts is not admitted: it is answered 503 (retry on another replica) once its body is in."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from conftest import RunningServer


def test_sigterm_waits_for_the_http_call_in_flight(
    models_dir: Path, launch_server: Callable[..., RunningServer]
) -> None:
    server = launch_server(models_dir, "--grace", "20")
    body = b'{"inputs":[{"text":"3+10"}]}'
    head = (
        "POST /v1/models/addition:predict HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.http_port or 0), timeout=30) as sock:
        sock.sendall(head + body[:10])  # the call has begun; its body is not all there
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while True:  # draining: readiness off, new calls refused with Retry-After
            ready = httpx.get(f"{server.http_url}/v2/health/ready", timeout=5)
            if ready.status_code == 503:
                break
            assert time.monotonic() < deadline, "readiness never went off"
            time.sleep(0.05)
        refused = httpx.post(f"{server.http_url}/v1/models/addition:predict", content=body)
        assert refused.status_code == 503 and "shutting down" in refused.json()["error"]
        assert refused.headers["retry-after"]
        sock.sendall(body[10:])
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 503") and b"retry-after" in answer.lower()
    assert server.process.wait(30) == 0
