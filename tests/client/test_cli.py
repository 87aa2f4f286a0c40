"""The `seqserve` console script, run as a subprocess against a real server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from client_support import CLI, lines

from seqserve.client import Client

# ------------------------------------------------------------------ predict


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["addition", "3+10"], "13"),
        (["addition", " 3+10"], "13"),
        (["addition", "10+10"], "20"),
        (["reverse", "1", "2", "3", "4", "5", "6"], "3 2 1"),
        (["reverse", "1,2,3,4,5,6"], "3 2 1"),
        (["echo_vanilla", "1", "2", "3", "4", "5"], "3"),
        (["echo_whole", "10", "20", "30", "40", "50"], "10 20 30 40 50"),
        (["echo_partial", "10", "20", "30", "40", "50"], "10 20"),
        (["sum_mlp", "40", "2"], "42 (42.00)"),
    ],
)
def test_predict_prints_the_answer(cli: CLI, args: list[str], expected: str) -> None:
    done = cli("predict", *args)
    assert (done.code, done.out, done.err) == (0, expected + "\n", "")


def test_predict_regression_prints_rounded_then_value(cli: CLI, client: Client) -> None:
    done = cli("predict", "sum_regression", "40", "2")
    result = client.predict("sum_regression", [40, 2])
    assert result.value is not None and result.rounded is not None
    assert done.out == f"{result.rounded} ({result.value:.2f})\n"
    assert result.rounded == round(result.value)
    assert abs(result.value - 42) < 1.5  # the tutorial model's RMSE is about 0.6


def test_predict_json_parses(cli: CLI) -> None:
    done = cli("--json", "predict", "addition", "3+10")
    assert done.code == 0
    answer = json.loads(done.out)
    assert answer["model"] == "addition" and answer["text"] == "13"
    assert answer["version"] >= 1 and len(answer["confidence"]) == 2
    regress = json.loads(cli("predict", "sum_mlp", "40", "2", "--json").out)
    assert regress["rounded"] == 42 and abs(regress["value"] - 42) < 0.5
    classify = json.loads(cli("predict", "echo_vanilla", "1", "2", "3", "4", "5", "--json").out)
    assert classify["ints"] == [3] and len(classify["probabilities"]) == 10


def test_predict_batch_from_stdin(cli: CLI) -> None:
    done = cli(
        "predict", "addition", "--file", "-", "--batch-size", "2", stdin="1+1\n3+10\n\n10+10\n"
    )
    assert (done.code, done.out, done.err) == (0, "2\n13\n20\n", "")


def test_predict_batch_from_file_as_json(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "inputs.txt"
    path.write_text("1 2 3 4 5 6\n10,20,30,40,50,1\n")
    done = cli("--json", "predict", "reverse", "-f", str(path))
    assert done.code == 0, done.err
    assert [json.loads(line)["ints"] for line in lines(done.out)] == [[3, 2, 1], [30, 20, 10]]


def test_predict_batch_names_the_bad_line(cli: CLI) -> None:
    done = cli("predict", "addition", "-f", "-", stdin="3+10\n3+11\n")
    assert done.code == 3
    assert done.err == (
        'seqserve: error: line 2: addition expects 1-10 "+" 1-10, e.g. "3+10"; got "3+11"\n'
    )


# ------------------------------------------------------------------ models, info, health


def test_models_table(cli: CLI) -> None:
    done = cli("models")
    assert done.code == 0, done.err
    rows = [re.split(r"\s{2,}", line) for line in lines(done.out)]
    assert rows[0] == ["NAME", "KIND", "INPUT", "OUTPUT", "VERSION", "READY"]
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) >= {
        "echo_vanilla", "echo_whole", "echo_partial", "addition",
        "sum_regression", "sum_mlp", "reverse", "recall",
    }  # fmt: skip
    assert by_name["addition"][1:4] == [
        "fixed_seq2seq",
        '1-10 "+" 1-10, e.g. "3+10"',
        "text, 2 symbols",
    ]
    assert by_name["reverse"][1:4] == ["seq2seq", "6 ints in 1-50", "3 ints in 0-50"]
    assert by_name["recall"][1:3] == ["stateful_step", "1 int in 0-4"]
    assert by_name["sum_mlp"][1:4] == ["regress", "2 values in 1-100", "value (+ rounded)"]
    assert all(row[5] == "yes" for row in by_name.values())


def test_models_json(cli: CLI) -> None:
    models = json.loads(cli("models", "--json").out)
    addition = next(m for m in models if m["name"] == "addition")
    assert addition["kind"] == "fixed_seq2seq" and addition["ready"] is True
    assert addition["manifest"]["input"]["alphabet"] == "0123456789+ "


def test_info(cli: CLI) -> None:
    done = cli("info", "reverse")
    assert done.code == 0, done.err
    fields = dict(line.split(":", 1) for line in lines(done.out))
    assert fields["name"].strip() == "reverse"
    assert fields["kind"].strip() == "seq2seq"
    assert fields["input"].strip() == "6 ints in 1-50"
    assert fields["decode"].strip() == "start symbol 0, 3 steps, state 128"
    assert "encoder.onnx" in done.out and "decoder_step.onnx" in done.out
    info = json.loads(cli("info", "reverse", "--json").out)
    assert info["manifest"]["decode"]["steps"] == 3


def test_health(cli: CLI) -> None:
    done = cli("health")
    assert (done.code, done.out) == (0, "SERVING\n")
    assert json.loads(cli("--json", "health").out) == {"status": "SERVING"}
    assert cli("health", "--service", "seqserve.v1.SeqServe").code == 0
    unknown = cli("health", "--service", "no.such.Service")
    assert (unknown.code, unknown.out) == (1, "SERVICE_UNKNOWN\n")


# ------------------------------------------------------------------ stream


def test_stream_prints_symbols(cli: CLI) -> None:
    done = cli("stream", "reverse", "1", "2", "3", "4", "5", "6")
    assert (done.code, done.out, done.err) == (0, "3 2 1\n", "")


def test_stream_json_events_in_order(cli: CLI) -> None:
    done = cli("--json", "stream", "reverse", "1", "2", "3", "4", "5", "6")
    events = [json.loads(line) for line in lines(done.out)]
    symbols = [e["symbol"] for e in events[:-1]]
    assert [(s["position"], s["symbol"]) for s in symbols] == [(0, 3), (1, 2), (2, 1)]
    assert events[-1]["result"]["ints"] == [3, 2, 1]


def test_stream_of_a_one_graph_model_prints_the_result(cli: CLI) -> None:
    done = cli("stream", "addition", "3+10")
    assert (done.code, done.out) == (0, "13\n")


# ------------------------------------------------------------------ session


def test_session_with_symbols_as_arguments(cli: CLI) -> None:
    done = cli("session", "recall", "3", "0", "1", "2", "reset", "4", "0", "1", "2")
    assert (done.code, done.err) == (0, "")
    assert lines(done.out) == ["0", "1", "2", "3", "0", "1", "2", "4"]


def test_session_from_piped_stdin(cli: CLI) -> None:
    done = cli("session", "recall", stdin="4\n0\n1\n2\n")
    assert (done.code, lines(done.out)) == (0, ["0", "1", "2", "4"])


def test_session_resumes_from_a_saved_snapshot(cli: CLI, tmp_path: Path) -> None:
    saved = tmp_path / "state.json"
    first = cli("session", "recall", "4", "0", "--save", str(saved))
    assert (first.code, lines(first.out)) == (0, ["0", "1"])
    # A new process, a new session: the state says the sequence started with 4.
    second = cli("session", "recall", "--resume", str(saved), "1", "2")
    assert (second.code, lines(second.out)) == (0, ["2", "4"])


def test_session_json(cli: CLI) -> None:
    done = cli("--json", "session", "recall", "3", "0")
    steps = [json.loads(line) for line in lines(done.out)]
    assert [(s["input"], s["symbol"], s["steps"]) for s in steps] == [(3, 0, 1), (0, 1, 2)]
    assert len(steps[0]["probabilities"]) == 5
