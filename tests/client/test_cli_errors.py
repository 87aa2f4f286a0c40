"""Every error class: its exit code and the server's message on one line of stderr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from client_support import CLI, copy_model, run_cli

import seqserve.client as api
from seqserve.client import Client
from seqserve.client import cli as seqserve_cli


def assert_error(done: Any, code: int, message: str) -> None:
    assert done.code == code
    assert done.out == ""
    assert done.err == f"seqserve: error: {message}\n"


def test_invalid_text(cli: CLI) -> None:
    done = cli("predict", "addition", "3+11")
    assert_error(done, 3, 'addition expects 1-10 "+" 1-10, e.g. "3+10"; got "3+11"')


def test_invalid_length_and_symbols(cli: CLI) -> None:
    assert_error(
        cli("predict", "reverse", "1", "2", "3"), 3, "reverse expects 6 ints in 1-50; got 3 items"
    )
    assert_error(
        cli("predict", "reverse", "1", "2", "x", "4", "5", "6"),
        3,
        'reverse expects 6 ints in 1-50; got "x" at position 2',
    )
    assert_error(
        cli("predict", "echo_vanilla", "1", "2", "3", "4", "10"),
        3,
        "echo_vanilla expects 5 ints in 0-9; got 10 at position 4",
    )
    assert_error(
        cli("session", "recall", "7"), 3, "recall expects 1 int in 0-4; got 7 at position 0"
    )


def test_model_not_found(cli: CLI) -> None:
    done = cli("predict", "nope", "1")
    assert done.code == 4 and done.out == ""
    assert done.err.startswith("seqserve: error: model 'nope' not found; models: ")
    assert "addition" in done.err and done.err.count("\n") == 1


def test_version_not_found(cli: CLI, client: Client) -> None:
    versions = ", ".join(map(str, client.info("addition").versions))
    assert_error(
        cli("info", "addition", "--version", "99"),
        4,
        f"model 'addition' has no version 99; versions: {versions}",
    )


def test_session_not_found(cli: CLI) -> None:
    done = cli("session", "recall", "--attach", "0123abcd", "1")
    assert_error(
        done,
        5,
        "session '0123abcd' not found (unknown, closed or evicted after idling); "
        "open a new one or resume from a snapshot",
    )


def test_deadline_exceeded(cli: CLI) -> None:
    # 256 sequences take over 10 ms to decode here: the 1 ms deadline passes on either side
    done = cli("--timeout", "0.001", "predict", "reverse", "-f", "-", stdin="1 2 3 4 5 6\n" * 256)
    assert done.code == 8 and done.out == ""
    assert done.err in (
        "seqserve: error: Deadline Exceeded\n",
        "seqserve: error: deadline exceeded before the answer was ready\n",
    )


def test_unavailable(cli: CLI) -> None:
    done = cli("predict", "addition", "3+10", "--target", "127.0.0.1:1", "--timeout", "5")
    assert done.code == 9 and done.out == ""
    assert done.err.startswith("seqserve: error: ") and "127.0.0.1:1" in done.err
    assert done.err.count("\n") == 1


def test_health_of_a_dead_target_is_unavailable() -> None:
    done = run_cli("127.0.0.1:1", "health", "--timeout", "5")
    assert done.code == 9 and "Traceback" not in done.err


NO_FILE = "No such file or directory"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "addition"], "give an input, or --file PATH (- for stdin)"),
        (
            ["predict", "addition", "3+10", "--file", "-"],
            "give inputs as arguments or with --file, not both",
        ),
        (
            ["--token-file", "/nonexistent/token", "health"],
            f"cannot read token file /nonexistent/token: {NO_FILE}",
        ),
        (["--tls-cert", "c.pem", "health"], "--tls-cert and --tls-key go together"),
        (
            ["--tls-ca", "/nonexistent/ca.pem", "health"],
            f"cannot read /nonexistent/ca.pem: {NO_FILE}",
        ),
        (
            ["session", "recall", "--resume", "/nonexistent/s.json", "1"],
            f"cannot read snapshot /nonexistent/s.json: {NO_FILE}",
        ),
    ],
)
def test_usage_errors(cli: CLI, args: list[str], message: str) -> None:
    assert_error(cli(*args), 2, message)


def test_argparse_usage_error_is_code_2(cli: CLI) -> None:
    done = cli("frobnicate")
    assert done.code == 2 and "usage: seqserve" in done.err and "Traceback" not in done.err


# ------------------------------------------------- a server of our own: not ready, overloaded


@pytest.fixture(scope="module")
def limited(
    models_dir: Path, tmp_path_factory: pytest.TempPathFactory, launch_server: Callable[..., Any]
) -> Iterator[str]:
    """A server whose `addition` fails its checks and that allows one session."""
    root = tmp_path_factory.mktemp("limited")
    broken = copy_model(models_dir, "addition", root, 1)
    with (broken / "model.onnx").open("ab") as graph:
        graph.write(b"tampered")
    copy_model(models_dir, "recall", root, 1)
    server = launch_server(root, "--max-sessions", "1")
    yield server.target
    server.stop()


def test_model_not_ready(limited: str) -> None:
    done = run_cli(limited, "predict", "addition", "3+10")
    assert done.code == 6 and done.out == ""
    assert done.err.startswith("seqserve: error: model 'addition' version 1 is not ready: ")
    assert "does not match the manifest" in done.err and done.err.count("\n") == 1
    with Client(limited) as client, pytest.raises(api.ModelNotReady):
        client.predict("addition", "3+10")


def test_overloaded(limited: str) -> None:
    with Client(limited) as client, client.session("recall") as held:
        held.step(3)
        done = run_cli(limited, "session", "recall", "3")
    assert_error(done, 7, "session limit reached (1 open; max_sessions); close idle sessions")


# ------------------------------------------------- the table itself


def test_exit_codes_are_distinct_and_cover_every_error_class() -> None:
    codes = seqserve_cli.EXIT_CODES
    classes = {
        getattr(api, name)
        for name in api.__all__
        if isinstance(getattr(api, name), type)
        and issubclass(getattr(api, name), api.SeqServeError)
        and getattr(api, name) is not api.SeqServeError
    }
    assert set(codes) == classes
    reserved = {0, 1, 2, 130}
    assert len(set(codes.values())) == len(codes) and not reserved & set(codes.values())
    for cls, code in codes.items():
        assert seqserve_cli.exit_code(cls("x")) == code
