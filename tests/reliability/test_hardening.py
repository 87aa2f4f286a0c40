"""Hostile and careless callers, each against a real server with the bound it must hold.

Every request here is refused before it costs work in proportion to what it claims (a
million items, 40,000 output names, a 3 MB name): the refusal is `INVALID_ARGUMENT` with
a short message, it comes back quickly, the server's RSS stays flat, and the server still
answers the next caller. Bounds are generous (a shared 2-core CI machine): they separate
"refused before work" from "did the work", not fast from slow.
"""

from __future__ import annotations

import hashlib
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from e2e.metrics_support import free_port, scrape
from grpc_health.v1 import health_pb2, health_pb2_grpc

from seqserve.client import Client
from seqserve.contract.manifest import read_manifest, write_manifest
from seqserve.server.api.kserve.messages import pb as kpb  # private pool: beside tritonclient
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import newest, place_version, private_repo, rss_bytes

if TYPE_CHECKING:
    from conftest import RunningServer

INVALID = grpc.StatusCode.INVALID_ARGUMENT
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"
BIG_NAME = "m" * (3 * 1024 * 1024)
REFUSAL_SECONDS = 2.0  # generous: the work the refusals avoid took 1-12 s
RSS_GROWTH = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def guarded(repo: Path, launch_server: Callable[..., RunningServer]) -> RunningServer:
    return launch_server(repo, "--log-access")


@pytest.fixture
def channel(guarded: RunningServer) -> Iterator[grpc.Channel]:
    options = [("grpc.max_send_message_length", 8 << 20)]
    with grpc.insecure_channel(guarded.target, options=options) as channel:
        yield channel


def model_infer(channel: grpc.Channel, request: kpb.ModelInferRequest) -> kpb.ModelInferResponse:
    call = channel.unary_unary(
        MODEL_INFER,
        request_serializer=kpb.ModelInferRequest.SerializeToString,
        response_deserializer=kpb.ModelInferResponse.FromString,
    )
    return call(request, timeout=30)


def health_status(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return int(stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status)


def refused(call: Callable[[], object]) -> tuple[grpc.StatusCode, str, float]:
    """The status code and message of a call that must fail, and how long it took."""
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value.code(), raised.value.details() or "", time.monotonic() - started


def still_serves(channel: grpc.Channel) -> None:
    stub = pb_grpc.SeqServeStub(channel)
    request = pb.PredictRequest(
        model="echo_vanilla", inputs=[pb.Input(ints=pb.Ints(values=[0, 1, 7, 3, 4]))]
    )
    assert stub.Predict(request, timeout=10).results[0].ints.values == [7]


def int_rows(model: str, rows: int, width: int = 5) -> kpb.ModelInferRequest:
    request = kpb.ModelInferRequest(model_name=model)
    request.inputs.add(name="INPUT", datatype="INT64", shape=[rows, width])
    request.raw_input_contents.append(struct.pack(f"<{rows * width}q", *([1] * rows * width)))
    return request


def test_repeated_output_names_are_refused_before_any_work(
    guarded: RunningServer, channel: grpc.Channel
) -> None:
    before = rss_bytes(guarded.process.pid)
    request = int_rows("echo_vanilla", 256)
    for _ in range(40_000):  # 0.7 MB naming PROBABILITIES again and again
        request.outputs.add(name="PROBABILITIES")
    code, message, seconds = refused(lambda: model_infer(channel, request))
    assert code == INVALID and "40000 outputs requested" in message, message
    assert seconds < REFUSAL_SECONDS
    twice = int_rows("echo_vanilla", 1)
    twice.outputs.add(name="OUTPUT")
    twice.outputs.add(name="OUTPUT")
    code, message, _ = refused(lambda: model_infer(channel, twice))
    assert code == INVALID and message == (
        "output 'OUTPUT' is requested twice; name each at most once"
    )
    assert rss_bytes(guarded.process.pid) - before < RSS_GROWTH
    still_serves(channel)


def test_an_answer_too_big_to_send_is_refused_before_inference(
    repo: Path, launch_server: Callable[..., RunningServer]
) -> None:
    server = launch_server(repo, "--max-message-bytes", "4096")
    request = kpb.ModelInferRequest(model_name="addition")
    request.inputs.add(name="INPUT", datatype="BYTES", shape=[256, 1])
    request.raw_input_contents.append(b"".join(struct.pack("<I", 3) + b"1+1" for _ in range(256)))
    with grpc.insecure_channel(server.target) as channel:
        code, message, _ = refused(lambda: model_infer(channel, request))
        assert code == INVALID
        assert "over the 4096-byte message limit (max_message_bytes)" in message, message
        request.ClearField("raw_input_contents")
        request.inputs[0].shape[:] = [2, 1]
        request.raw_input_contents.append(b"".join(struct.pack("<I", 3) + b"1+1" for _ in range(2)))
        assert len(model_infer(channel, request).raw_output_contents) == 2
    server.stop()


def test_a_million_items_are_refused_on_the_count(
    guarded: RunningServer, channel: grpc.Channel
) -> None:
    # seqserve.v1: 1,000,000 empty inputs (2 MB), written as wire bytes
    head = pb.PredictRequest(model="echo_vanilla").SerializeToString()
    predict = channel.unary_unary(
        "/seqserve.v1.SeqServe/Predict", response_deserializer=pb.PredictResponse.FromString
    )
    code, message, seconds = refused(lambda: predict(head + b"\x1a\x00" * 1_000_000, timeout=30))
    assert code == INVALID and message.startswith("batch of 1000000 inputs is over the limit")
    assert seconds < REFUSAL_SECONDS
    # KServe: a BYTES tensor of 1,000,000 empty elements
    request = kpb.ModelInferRequest(model_name="addition")
    request.inputs.add(name="INPUT", datatype="BYTES", shape=[1_000_000, 1])
    request.raw_input_contents.append(b"\x00\x00\x00\x00" * 1_000_000)
    code, message, seconds = refused(lambda: model_infer(channel, request))
    assert code == INVALID and message.startswith("batch of 1000000 inputs is over the limit")
    assert seconds < REFUSAL_SECONDS
    still_serves(channel)


def test_identifiers_past_their_maximum_are_refused_and_never_echoed_whole(
    guarded: RunningServer, channel: grpc.Channel
) -> None:
    stub = pb_grpc.SeqServeStub(channel)
    log_before = guarded.log_path.stat().st_size
    for _ in range(5):
        code, message, _ = refused(
            lambda: stub.Predict(pb.PredictRequest(model=BIG_NAME), timeout=30)
        )
        assert code == INVALID and "at most 256 are allowed" in message
        assert len(message) < 300
    code, message, _ = refused(lambda: stub.GetModel(pb.GetModelRequest(name=BIG_NAME)))
    assert code == INVALID and len(message) < 300
    # an unknown name within the limit: NOT_FOUND, the name cut short in the message
    code, message, _ = refused(lambda: stub.GetModel(pb.GetModelRequest(name="n" * 200)))
    assert code == grpc.StatusCode.NOT_FOUND and "n" * 61 + "..." in message
    # a session id past its maximum
    opened = pb.SessionRequest(open=pb.SessionOpen(model="recall", session_id="s" * 100_000))
    code, message, _ = refused(lambda: list(stub.Session(iter([opened]), timeout=10)))
    assert code == INVALID and "session id" in message and len(message) < 300
    # KServe: request id and string sequence id
    request = int_rows("echo_vanilla", 1)
    request.id = "r" * 1_000_000
    code, message, _ = refused(lambda: model_infer(channel, request))
    assert code == INVALID and "request id" in message and len(message) < 300
    step = kpb.ModelInferRequest(model_name="recall")
    step.inputs.add(name="INPUT", datatype="INT64", shape=[1, 1])
    step.raw_input_contents.append(struct.pack("<q", 1))
    step.parameters["sequence_id"].string_param = "q" * 3_000_000
    step.parameters["sequence_start"].bool_param = True
    code, message, _ = refused(lambda: model_infer(channel, step))
    assert code == INVALID and "sequence id" in message and len(message) < 300
    assert guarded.log_path.stat().st_size - log_before < 64 * 1024  # not 15 MB
    still_serves(channel)


def test_line_breaks_in_caller_text_do_not_forge_log_lines(
    guarded: RunningServer, channel: grpc.Channel
) -> None:
    stub = pb_grpc.SeqServeStub(channel)
    forged = "1+1\u2028INFO forged\u0085line\nx"
    code, _, _ = refused(
        lambda: stub.Predict(
            pb.PredictRequest(model="addition", inputs=[pb.Input(text=forged)]), timeout=10
        )
    )
    assert code == INVALID
    time.sleep(0.2)
    log = guarded.log
    assert "\u2028" not in log and "\u0085" not in log
    assert not any(line.startswith("INFO forged") for line in log.splitlines())


def test_bad_folders_and_manifests_are_versions_not_ready(
    models_dir: Path, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    repo = private_repo(models_dir, tmp_path / "models", ["echo_vanilla", "echo_whole"])
    source = repo / "echo_vanilla" / "1"
    for name in ("\u00b2", "99999999999999999999", "01"):
        (repo / "echo_vanilla" / name).mkdir()
        for file in source.iterdir():
            (repo / "echo_vanilla" / name / file.name).write_bytes(file.read_bytes())
    bad = place_version(repo / "echo_whole" / "1", repo / "echo_whole", 2)
    info = read_manifest(bad)
    info.graphs[0].inputs[0].shape[:] = [-1, -5]
    write_manifest(bad, info)
    server = launch_server(repo, "--poll", "0.2")  # starts and reports SERVING
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        models = {
            m.info.name: m for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models
        }
        vanilla = models["echo_vanilla"]
        assert vanilla.ready and list(vanilla.versions) == [1]
        for name in ("\u00b2", "999999999999999", "01"):
            assert f"folder '{name}" in vanilla.reason, vanilla.reason
        whole = models["echo_whole"]
        assert whole.ready and list(whole.versions) == [1]
        assert "version 2 not ready" in whole.reason and "[-1, -5]" in whole.reason
        status = stub.GetModel(pb.GetModelRequest(name="echo_whole", version=2), timeout=10)
        assert not status.ready
        for reason in (vanilla.reason, whole.reason, status.reason):
            assert str(tmp_path) not in reason and "onnxruntime" not in reason.lower()
        # the bad folders stay; other models keep hot-reloading
        (repo / "sum_mlp").mkdir()
        place_version(newest(models_dir, "sum_mlp"), repo / "sum_mlp", 1)
        deadline = time.monotonic() + 60
        while True:
            names = {m.info.name for m in stub.ListModels(pb.ListModelsRequest()).models}
            if "sum_mlp" in names:
                break
            assert time.monotonic() < deadline, "sum_mlp was never loaded"
            time.sleep(0.1)
    assert "Traceback" not in server.log
    server.stop()


# ------------------------------------------------------------------ the repository


def start_fails(models: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    port = [] if "--port" in flags else ["--port", "0"]
    port += [] if "--http-port" in flags else ["--http-port", "-1"]
    return subprocess.run(
        [sys.executable, "-m", "seqserve.server", "--models", str(models), *port, *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_or_empty_repository_fails_at_start(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    empty = tmp_path / "empty"
    (empty / "model_without_versions").mkdir(parents=True)
    for models, says in (
        (tmp_path / "missing", "does not exist"),
        (afile, "is not a folder"),
        (empty, "no model versions under"),
    ):
        done = start_fails(models)
        assert done.returncode == 3, done.stderr
        assert says in done.stderr and "Traceback" not in done.stderr


def test_an_empty_repository_is_not_serving_until_a_model_loads(
    models_dir: Path, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    repo = tmp_path / "models"
    repo.mkdir()
    server = launch_server(repo, "--allow-empty", "--poll", "0.2", wait=False)
    deadline = time.monotonic() + 60
    while True:
        try:
            status = health_status(server.target)
            break
        except grpc.RpcError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    time.sleep(0.5)  # loaded (nothing) and polling by now
    assert health_status(server.target) == NOT_SERVING == status
    (repo / "echo_vanilla").mkdir()
    place_version(newest(models_dir, "echo_vanilla"), repo / "echo_vanilla", 1)
    while health_status(server.target) != SERVING:
        assert time.monotonic() < deadline, "never SERVING after a model was added"
        time.sleep(0.05)
    server.stop()


def test_a_graph_with_external_data_is_refused(
    models_dir: Path, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    import onnx

    repo = private_repo(models_dir, tmp_path / "models", ["echo_vanilla", "sum_mlp"])
    folder = repo / "echo_vanilla" / "1"
    info = read_manifest(folder)
    graph = info.graphs[0]
    model = onnx.load(str(folder / graph.file))
    onnx.save_model(
        model,
        str(folder / graph.file),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    graph.sha256 = hashlib.sha256((folder / graph.file).read_bytes()).hexdigest()
    write_manifest(folder, info)
    server = launch_server(repo)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        status = stub.GetModel(pb.GetModelRequest(name="echo_vanilla"), timeout=10)
        assert not status.ready
        assert "external data file" in status.reason and "SHA-256" in status.reason
        assert stub.GetModel(pb.GetModelRequest(name="sum_mlp"), timeout=10).ready
    server.stop()


# ------------------------------------------------------------------ /metrics


def test_metrics_is_on_loopback_and_idle_requests_hold_few_threads(
    repo: Path, launch_server: Callable[..., RunningServer]
) -> None:
    port = free_port()
    server = launch_server(repo, "--host", "127.0.0.1", "--metrics-port", str(port))
    assert f"metrics on http://127.0.0.1:{port}/metrics" in server.log
    threads = len(server.threads())
    idle = []
    for _ in range(300):  # half-sent requests that never end
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        idle.append(sock)
    time.sleep(0.5)
    assert len(server.threads()) - threads <= 8 + 2  # METRICS_CONNECTIONS, not 300
    with grpc.insecure_channel(server.target) as channel:
        still_serves(channel)
    for sock in idle:
        sock.close()
    deadline = time.monotonic() + 10
    while True:  # the slots free as the server notices the closed connections
        try:
            assert any(name == "seqserve_requests_total" for name, _ in scrape(port))
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    server.stop()


# ------------------------------------------------------------------ rolling restart


def test_a_rolling_restart_costs_a_client_no_error(
    repo: Path, launch_server: Callable[..., RunningServer]
) -> None:
    first = launch_server(repo, "--grace", "5")
    second = launch_server(repo, "--grace", "5")
    errors: list[str] = []
    answered = [0]
    stop = threading.Event()

    def caller() -> None:
        with Client(f"{first.target},{second.target}", timeout=10) as client:
            while not stop.is_set():
                try:
                    assert client.predict("echo_vanilla", [0, 1, 7, 3, 4]).ints == (7,)
                    answered[0] += 1
                except Exception as exc:
                    errors.append(repr(exc))

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(30) == 0
    time.sleep(0.5)  # the callers go on with the other replica
    stop.set()
    for thread in threads:
        thread.join(30)
    second.stop()
    assert answered[0] > 0 and errors == [], errors[:3]
    assert "stopped" in first.log and "cancelling" not in first.log


# ------------------------------------------------------------------ stateful refusals


def recall_step(
    sequence: str, symbol: int, start: bool = False, end: object = None
) -> kpb.ModelInferRequest:
    request = kpb.ModelInferRequest(model_name="recall")
    request.inputs.add(name="INPUT", datatype="INT64", shape=[1, 1])
    request.raw_input_contents.append(struct.pack("<q", symbol))
    request.parameters["sequence_id"].string_param = sequence
    if start:
        request.parameters["sequence_start"].bool_param = True
    if isinstance(end, str):
        request.parameters["sequence_end"].string_param = end
    return request


def test_a_refused_sequence_step_leaves_the_sequence_as_it_was(channel: grpc.Channel) -> None:
    answers = []
    for sequence, refused_step in (("plain", False), ("with-a-refusal", True)):
        model_infer(channel, recall_step(sequence, 1, start=True))
        model_infer(channel, recall_step(sequence, 2))
        if refused_step:
            code, message, _ = refused(
                lambda s=sequence: model_infer(channel, recall_step(s, 3, end="yes"))
            )
            assert code == INVALID and "sequence_end must be a bool" in message
        answers.append(model_infer(channel, recall_step(sequence, 4)).raw_output_contents[-1])
    assert answers[0] == answers[1]  # the refused step did not advance the sequence


def test_a_snapshot_out_of_range_is_refused_at_open(channel: grpc.Channel) -> None:
    stub = pb_grpc.SeqServeStub(channel)
    width = stub.GetModel(pb.GetModelRequest(name="recall"), timeout=10).info.decode.state_size
    zeros = [0.0] * width
    state = pb.SessionState(model="recall", h=zeros, c=zeros, steps=2**63 - 1)
    opened = pb.SessionRequest(open=pb.SessionOpen(model="recall", state=state))
    code, message, _ = refused(lambda: list(stub.Session(iter([opened]), timeout=10)))
    assert code == INVALID and "session state steps must be 0-" in message


def test_an_abandoned_session_frees_its_place_after_a_short_grace(
    repo: Path, launch_server: Callable[..., RunningServer]
) -> None:
    server = launch_server(repo, "--max-sessions", "2", "--session-detached-grace", "0.5")
    opened = pb.SessionRequest(open=pb.SessionOpen(model="recall"))
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        for _ in range(2):  # open, then drop the stream without close or snapshot
            replies = stub.Session(iter([opened]), timeout=10)
            assert next(replies).WhichOneof("event") == "opened"
            replies.cancel()
        code, message, _ = refused(lambda: next(stub.Session(iter([opened]), timeout=10)))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "session limit" in message
        time.sleep(1.0)  # past the grace, not the idle timeout (300 s)
        assert next(stub.Session(iter([opened]), timeout=10)).WhichOneof("event") == "opened"
    server.stop()


def test_a_caller_leaving_a_model_stream_is_a_normal_event(guarded: RunningServer) -> None:
    request = kpb.ModelInferRequest(model_name="reverse", id="x")
    request.inputs.add(name="INPUT", datatype="INT64", shape=[64, 6])
    request.raw_input_contents.append(struct.pack("<384q", *([1, 2, 3, 4, 5, 6] * 64)))
    log_before = guarded.log_path.stat().st_size
    leave = threading.Event()

    def requests() -> Iterator[kpb.ModelInferRequest]:
        for _ in range(20):
            yield request
        leave.wait(10)  # the stream stays open until the caller has gone

    for _ in range(10):  # leave while answers are being written
        with grpc.insecure_channel(guarded.target) as channel:
            stream = channel.stream_stream(
                "/inference.GRPCInferenceService/ModelStreamInfer",
                request_serializer=kpb.ModelInferRequest.SerializeToString,
                response_deserializer=kpb.ModelStreamInferResponse.FromString,
            )
            answers = stream(requests())
            next(answers)
    leave.set()
    time.sleep(0.5)
    with guarded.log_path.open(errors="replace") as log:
        log.seek(log_before)
        written = log.read()
    assert "ERROR" not in written and "Task was destroyed" not in written, written[:2000]
    with grpc.insecure_channel(guarded.target) as channel:
        still_serves(channel)


def test_localhost_binds_both_loopbacks_or_fails(repo: Path) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with socket.socket(socket.AF_INET6) as taken:  # another process holds [::1]:P
        taken.bind(("::1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = start_fails(repo, "--host", "localhost", "--port", str(port))
    assert done.returncode == 1 and f"cannot bind [::1]:{port}" in done.stderr
