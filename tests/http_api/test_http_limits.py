"""Slow and oversized bodies get their 4xx and never stall other callers (one event loop
serves everyone: it waits for bytes, never for a client)."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import RunningServer

BODY_TIMEOUT = 3
PREDICT = {"inputs": [{"text": "3+10"}]}


@pytest.fixture(scope="module")
def guarded(models_dir: Path, launch_server: Callable[..., RunningServer]) -> RunningServer:
    return launch_server(models_dir, "--http-body-timeout", str(BODY_TIMEOUT))


def open_request(server: RunningServer, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.http_port or 0), timeout=30)
    sock.sendall(head.encode())
    return sock


def status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def others_answered(server: RunningServer, count: int = 20) -> int:
    with httpx.Client(base_url=server.http_url, timeout=10) as client:
        answers = [client.post("/v1/models/addition:predict", json=PREDICT) for _ in range(count)]
    return sum(a.status_code == 200 and a.json()["results"][0]["text"] == "13" for a in answers)


def test_slow_body_gets_408_and_others_are_served_meanwhile(guarded: RunningServer) -> None:
    head = (
        "POST /v1/models/addition:predict HTTP/1.1\r\nHost: x\r\n"
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"inputs"'
    )
    slow = [open_request(guarded, head) for _ in range(5)]
    try:
        assert others_answered(guarded) == 20
        assert not select.select(slow, [], [], 0)[0]  # the slow ones are still waiting
        assert [status_of(sock) for sock in slow] == [408] * 5
    finally:
        for sock in slow:
            sock.close()


def test_100_mb_body_gets_413_and_others_are_served_meanwhile(guarded: RunningServer) -> None:
    declared = open_request(
        guarded,
        "POST /v2/models/addition/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n",
    )
    with declared:
        assert status_of(declared) == 413  # refused from the header, nothing read
    outcome: list[str] = []

    def send_100_mb_chunked() -> None:
        sock = open_request(
            guarded,
            "POST /v2/models/addition/infer HTTP/1.1\r\nHost: x\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
        )
        chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"  # 1 MiB per chunk
        try:
            for _ in range(100):
                if select.select([sock], [], [], 0)[0]:
                    break  # the answer came before the body ended
                sock.sendall(chunk)
            outcome.append(str(status_of(sock)))
        except OSError as exc:  # the server closed the connection once over the limit
            outcome.append(type(exc).__name__)
        finally:
            sock.close()

    sender = threading.Thread(target=send_100_mb_chunked)
    sender.start()
    try:
        assert others_answered(guarded) == 20
    finally:
        sender.join(60)
    assert outcome and outcome[0] in ("413", "ConnectionResetError", "BrokenPipeError")
    assert others_answered(guarded, 2) == 2
