"""Shared fixtures: the exported models and a real seqserve server on loopback.

`models_dir` is the model repository the tests serve (`models/`, or `$MODELS`); `make test`
trains and exports it first. `server_target` is "127.0.0.1:PORT" of one server subprocess
(`python -m seqserve.server --port 0`) started once per test session and SERVING before
any test uses it; its HTTP port is free too (`server.http_url`). `launch_server` starts
more servers with their own models and flags.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
SERVING = health_pb2.HealthCheckResponse.SERVING


@dataclass
class RunningServer:
    """A server subprocess; its combined stdout/stderr go to `log_path`."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    http_port: int | None = None  # None: the HTTP port is off

    @property
    def http_url(self) -> str:
        """http://127.0.0.1:PORT (https:// for a server with TLS is up to the caller)."""
        assert self.http_port is not None, "this server's HTTP port is off"
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def threads(self) -> dict[int, str]:
        """The server's OS threads (Linux /proc): thread id -> name (15 bytes at most)."""
        out: dict[int, str] = {}
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                out[int(task.name)] = (task / "comm").read_text().strip()
            except OSError:  # the thread ended meanwhile
                continue
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the server and wait for it; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def health_status(target: str, service: str = "", timeout: float = 2.0) -> int:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        return int(reply.status)


def launch(
    models: Path, workdir: Path, *flags: str, wait: bool = True, python: str = sys.executable
) -> RunningServer:
    """Start `python -m seqserve.server` on free loopback ports (gRPC, and HTTP unless the
    flags say otherwise); by default wait for SERVING.

    `python` is the interpreter to run it with (another virtual environment's)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / "port"
    http_port_file = workdir / "http-port"
    log_path = workdir / "server.log"
    command = [python, "-m", "seqserve.server", "--models", str(models)]
    command += ["--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]
    # a free HTTP port unless the flags say otherwise (a fixed --port would otherwise take 8000)
    command += ["--http-port", "-1", "--http-port-file", str(http_port_file), *flags]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start:\n{log_path.read_text()}")
        time.sleep(0.01)
    http_port = None
    if "--http-port" not in flags or flags[flags.index("--http-port") + 1] != "0":
        while not http_port_file.exists():  # written right after the gRPC port
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"server did not open its HTTP port:\n{log_path.read_text()}")
            time.sleep(0.01)
        http_port = int(http_port_file.read_text())
    server = RunningServer(process, int(port_file.read_text()), log_path, http_port)
    while wait:
        try:
            if health_status(server.target) == SERVING:
                break
        except grpc.RpcError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise RuntimeError(f"server never became SERVING:\n{server.log}")
        time.sleep(0.02)
    return server


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The exported model repository (`make train export` writes it)."""
    path = Path(os.environ.get("MODELS", REPO / "models")).resolve()
    if not any(path.glob("*/*/model.json")):
        pytest.fail(f"no exported models under {path}: run `make train export` first")
    return path


@pytest.fixture(scope="session")
def launch_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., RunningServer]]:
    """`launch_server(models, *flags, wait=True, python=...)`; all are stopped at session end."""
    started: list[RunningServer] = []

    def start(
        models: Path, *flags: str, wait: bool = True, python: str = sys.executable
    ) -> RunningServer:
        workdir = tmp_path_factory.mktemp("server")
        server = launch(models, workdir, *flags, wait=wait, python=python)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(models_dir: Path, launch_server: Callable[..., RunningServer]) -> RunningServer:
    """The shared server on the exported models (report-modules on for the import check)."""
    return launch_server(models_dir, "--report-modules")


@pytest.fixture(scope="session")
def server_target(server: RunningServer) -> str:
    return server.target
