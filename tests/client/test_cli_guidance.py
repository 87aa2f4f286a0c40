"""The CLI says what to do next: connection failures, wrong commands, help, interrupts.

Every case runs the installed `seqserve` script as a subprocess against real servers.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from client_support import CLI, SEQSERVE, run_cli
from test_cli_session_tty import Terminal

from seqserve.client import Client, SeqServeError
from seqserve.client import cli as seqserve_cli

NO_SERVER = "start one, or set --target or SEQSERVE_TARGET"


def one_error_line(done: Any) -> str:
    """The single line the CLI printed on stderr (nothing from gRPC core, no traceback)."""
    assert done.out == "", done.out
    lines = done.err.splitlines()
    assert len(lines) == 1, done.err
    assert lines[0].startswith("seqserve: error: "), done.err
    return str(lines[0].removeprefix("seqserve: error: "))


# ------------------------------------------------------------------ connection failures


def test_no_server_at_the_target() -> None:
    done = run_cli("127.0.0.1:1", "models", "--timeout", "5")
    assert done.code == 9
    assert one_error_line(done) == (
        f"no server is listening at 127.0.0.1:1 (connection refused): {NO_SERVER}"
    )


def test_unresolvable_host() -> None:
    done = run_cli("no-such-host.invalid:50051", "models", "--timeout", "5")
    assert done.code == 9
    assert one_error_line(done).startswith(
        "cannot resolve the host of no-such-host.invalid:50051: check its spelling"
    )


def test_tls_to_a_plaintext_server_is_one_line(server_target: str) -> None:
    # gRPC core logs the failed handshake itself ("I1203 ... Handshake failed"): not shown
    done = run_cli(server_target, "--tls", "models", "--timeout", "5")
    assert done.code == 9
    assert one_error_line(done) == (
        f"the TLS handshake with {server_target} failed: the server does not speak TLS; drop --tls"
    )


@pytest.fixture(scope="module")
def http_only() -> Iterator[str]:
    """A plain HTTP/1.1 server: what a gRPC client meets on a wrong port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_that_is_not_grpc(http_only: str) -> None:
    done = run_cli(http_only, "health", "--timeout", "5")
    assert done.code == 9
    assert one_error_line(done) == (
        f"{http_only} did not answer as a gRPC server: check the port, and add --tls if the "
        "server speaks TLS"
    )


def test_bare_host_gets_the_seqserve_port(models_dir: Path) -> None:
    """`--target localhost` reaches a server on 50051 (gRPC alone would try port 443)."""
    port = seqserve_cli.DEFAULT_PORT
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            pytest.skip(f"port {port} is in use here")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seqserve.server",
            "--models",
            str(models_dir),
            "--port",
            str(port),
            "--http-port",
            "-1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not serving(f"127.0.0.1:{port}"):
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        done = run_cli("localhost", "predict", "addition", "3+10")
        assert (done.code, done.out) == (0, "13\n"), done.err
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def serving(target: str) -> bool:
    try:
        with Client(target, timeout=2) as client:
            return client.health().serving
    except SeqServeError:
        return False


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("localhost", "localhost:50051"),
        ("localhost:6000", "localhost:6000"),
        ("a,b:7", "a:50051,b:7"),
        ("[::1]", "[::1]:50051"),
        ("::1", "[::1]:50051"),
        ("[::1]:7", "[::1]:7"),
        ("dns:///seqserve-headless", "dns:///seqserve-headless"),
        ("unix:/run/seqserve.sock", "unix:/run/seqserve.sock"),
    ],
)
def test_target_forms(given: str, used: str) -> None:
    assert seqserve_cli.with_default_port(given) == used


# ------------------------------------------------------------------ usage


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "soon"])
def test_timeout_must_be_positive(cli: CLI, seconds: str) -> None:
    done = cli("--timeout", seconds, "models")
    assert done.code == 2 and done.out == ""
    assert "usage: seqserve" in done.err and "argument --timeout" in done.err
    done = cli("models", f"--timeout={seconds}")
    assert done.code == 2 and "argument --timeout" in done.err


def test_unknown_model_suggests_the_closest_name(cli: CLI) -> None:
    done = cli("predict", "additon", "3+10")
    assert done.code == 4
    message = one_error_line(done)
    assert message.startswith("model 'additon' not found; ")
    assert message.endswith("; did you mean 'addition'?")
    far = cli("info", "zzzz")
    assert far.code == 4 and "did you mean" not in far.err


def test_stateful_model_through_predict_names_the_session_command(cli: CLI) -> None:
    for command in ("predict", "stream"):
        done = cli(command, "recall", "3")
        assert done.code == 3
        assert one_error_line(done) == (
            "recall is a stateful_step model: step it with `seqserve session recall`"
        )


def test_session_on_a_stateless_model_names_predict(cli: CLI) -> None:
    done = cli("session", "reverse", "1")
    assert done.code == 3
    assert one_error_line(done) == (
        "reverse is a seq2seq model, not a session: use `seqserve predict reverse INPUT` "
        "(or `seqserve stream`)"
    )


def test_every_option_has_help_and_its_default() -> None:
    parser = seqserve_cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert isinstance(commands, dict)
    for name, command in [("seqserve", parser), *commands.items()]:
        for action in command._actions:
            exits = action.dest == "help" or (name, action.dest) == ("seqserve", "version")
            if action.option_strings and not exits:
                assert action.help and "default" in action.help, (name, action.dest)


@pytest.mark.parametrize("command", sorted(seqserve_cli.EXAMPLES))
def test_help_shows_examples(cli: CLI, command: str) -> None:
    done = cli(command, "--help")
    assert done.code == 0
    assert "examples:" in done.out and f"seqserve {command}" in done.out
    if command in ("predict", "stream", "session"):
        assert "seqserve info MODEL" in done.out


def test_version(cli: CLI) -> None:
    done = cli("--version")
    assert done.code == 0 and done.out.startswith("seqserve ") and "grpcio " in done.out


# ------------------------------------------------------------------ the interactive session


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SEQSERVE_")}


def test_help_in_the_interactive_session(server_target: str) -> None:
    term = Terminal([SEQSERVE, "--target", server_target, "session", "recall"], _env())
    try:
        assert "'help'" in term.expect("> ")
        term.send("help")
        shown = term.expect("> ")
        assert "zero the state" in shown and "1 int in 0-4" in shown
        term.send("quit")
        assert term.close() == 0
    finally:
        if term.process.poll() is None:
            term.process.kill()


def test_save_on_ctrl_c(server_target: str, tmp_path: Path) -> None:
    saved = tmp_path / "recall.json"
    args = [SEQSERVE, "--target", server_target, "session", "recall", "--save", str(saved)]
    term = Terminal(args, _env())
    try:
        term.expect("> ")
        term.send("3")
        term.expect("\n> ")
        term.process.send_signal(signal.SIGINT)
        # a signal taken by one of gRPC's threads is handled when the prompt next returns
        term.send("")
        assert f"snapshot saved to {saved}" in term.expect("interrupted")
        assert term.close() == 130
    finally:
        if term.process.poll() is None:
            term.process.kill()
    assert json.loads(saved.read_text())["model"] == "recall"
    resumed = run_cli(server_target, "session", "recall", "--resume", str(saved), "0", "1", "2")
    assert (resumed.code, resumed.out) == (0, "1\n2\n3\n"), resumed.err
