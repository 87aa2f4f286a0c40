"""Server lifecycle: readiness, health, bad models, overload, shutdown, what it imports."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from seqserve.contract.manifest import read_manifest, write_manifest
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import code_of, ints, kind_models
from .test_sessions import TUTORIAL, Conversation

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "seqserve.v1.SeqServe"


def test_help_lists_every_setting() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seqserve.server", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    for flag in ("--models", "--host", "--port", "--device", "--intra-op-threads",
                 "--max-batch-size", "--max-batch-delay-us", "--max-active-sequences",
                 "--max-queue", "--max-sessions", "--session-idle-timeout", "--grace",
                 "SEQSERVE_MAX_QUEUE"):  # fmt: skip
        assert flag in done.stdout


def test_server_never_imports_tensorflow(server) -> None:  # type: ignore[no-untyped-def]
    assert "heavy modules loaded: none" in server.log
    maps = Path(f"/proc/{server.process.pid}/maps")
    if maps.exists():
        assert "tensorflow" not in maps.read_text()


def test_health_per_service(server_target: str) -> None:
    with grpc.insecure_channel(server_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", SERVICE):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == SERVING
        code, _ = code_of(lambda: health.Check(health_pb2.HealthCheckRequest(service="nope")))
        assert code == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_services(server_target: str) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(server_target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (reply,) = list(stub.ServerReflectionInfo(iter([request])))
        names = {s.name for s in reply.list_services_response.service}
        assert {SERVICE, "grpc.health.v1.Health"} <= names


def test_health_not_serving_then_serving_then_not_serving(launch_server, models_dir) -> None:  # type: ignore[no-untyped-def]
    server = launch_server(models_dir, "--warmup-runs", "300", "--grace", "1", wait=False)
    seen: list[int] = []
    with grpc.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=SERVICE), timeout=60)
        for reply in watch:
            if not seen or seen[-1] != reply.status:
                seen.append(reply.status)
            if reply.status == SERVING:
                break
        server.process.send_signal(signal.SIGTERM)
        try:
            for reply in watch:
                if seen[-1] != reply.status:
                    seen.append(reply.status)
        except grpc.RpcError:
            pass  # the stream ends when the server stops
    assert seen == [NOT_SERVING, SERVING, NOT_SERVING]
    assert server.process.wait(30) == 0


def corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupted_model_leaves_the_others_serving(
    launch_server, models_dir: Path, tmp_path: Path, manifests: dict
) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    victim = kind_models(manifests, pb.SERVING_KIND_SEQ2SEQ)[0]
    file = manifests[victim].graphs[0].file
    for folder in (copy / victim).iterdir():  # every version of it
        corrupt(folder / file)
    (copy / victim / "notaversion").mkdir()  # non-integer folders are ignored
    server = launch_server(copy)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        listed = {m.info.name: m for m in stub.ListModels(pb.ListModelsRequest()).models}
        assert set(listed) == set(manifests)
        assert not listed[victim].ready and list(listed[victim].versions) == []
        assert "SHA-256" in listed[victim].reason and file in listed[victim].reason
        assert all(m.ready for name, m in listed.items() if name != victim)
        spec = manifests[victim].input
        request = pb.PredictRequest(model=victim, inputs=[ints(*[spec.min_value] * spec.length)])
        code, message = code_of(lambda: stub.Predict(request))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "not ready" in message
        assert "SHA-256" in message
        other = kind_models(manifests, pb.SERVING_KIND_CLASSIFY)[0]
        spec = manifests[other].input
        request = pb.PredictRequest(model=other, inputs=[ints(*[spec.min_value] * spec.length)])
        assert len(stub.Predict(request).results) == 1
    version = manifests[victim].version
    assert f"model {victim} version {version} not ready" in server.log


def test_corrupted_newest_version_falls_back_to_the_previous(
    launch_server, models_dir: Path, tmp_path: Path, manifests: dict
) -> None:  # type: ignore[no-untyped-def]
    name = kind_models(manifests, pb.SERVING_KIND_CLASSIFY)[0]
    info = manifests[name]
    copy = tmp_path / "models"
    (copy / name).mkdir(parents=True)
    shutil.copytree(models_dir / name / str(info.version), copy / name / str(info.version))
    broken = copy / name / str(info.version + 1000)  # a newer version, corrupted
    shutil.copytree(copy / name / str(info.version), broken)
    newer = read_manifest(broken)
    newer.version = info.version + 1000
    write_manifest(broken, newer)
    corrupt(broken / info.graphs[0].file)
    server = launch_server(copy)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        (status,) = stub.ListModels(pb.ListModelsRequest()).models
        assert status.ready and list(status.versions) == [info.version]
        assert f"version {newer.version} not ready" in status.reason
        spec = info.input
        item = ints(*[spec.min_value] * spec.length)
        reply = stub.Predict(pb.PredictRequest(model=name, inputs=[item]))
        assert reply.version == info.version
        request = pb.PredictRequest(model=name, version=newer.version, inputs=[item])
        code, message = code_of(lambda: stub.Predict(request))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "SHA-256" in message


def test_overload_is_refused_at_once_with_the_limit(launch_server, models_dir, manifests) -> None:  # type: ignore[no-untyped-def]
    server = launch_server(models_dir, "--max-queue", "2", "--max-active-sequences", "1")
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        for kinds in ((pb.SERVING_KIND_CLASSIFY,), (pb.SERVING_KIND_SEQ2SEQ,)):
            name = kind_models(manifests, *kinds)[0]
            spec = manifests[name].input
            item = ints(*[spec.min_value] * spec.length)
            request = pb.PredictRequest(model=name, inputs=[item] * 4)
            code, message = code_of(lambda r=request: stub.Predict(r, timeout=5))
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "2" in message and "retry later" in message
            ok = pb.PredictRequest(model=name, inputs=[item])
            assert len(stub.Predict(ok, timeout=5).results) == 1


def test_sigterm_finishes_the_call_in_flight_and_exits_0(
    launch_server, models_dir, manifests
) -> None:  # type: ignore[no-untyped-def]
    recall = kind_models(manifests, pb.SERVING_KIND_STATEFUL_STEP)[0]
    server = launch_server(models_dir, "--grace", "20")
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        session = Conversation(stub)
        session.open(model=recall)
        sequence = TUTORIAL[0]
        predicted = [session.step(sequence[0]).symbol]
        server.process.send_signal(signal.SIGTERM)
        threading.Event().wait(0.3)
        # draining: a new call is refused before any work (a client retries it elsewhere)
        code, message = code_of(lambda: stub.ListModels(pb.ListModelsRequest(), timeout=2))
        assert code == grpc.StatusCode.UNAVAILABLE and "shutting down" in message
        # while the call in flight goes on to its end
        predicted += [session.step(s).symbol for s in sequence[1:-1]]
        assert predicted == sequence[1:]
        assert session.send(close=pb.SessionClose()).WhichOneof("event") == "closed"
        session.end()
    assert server.process.wait(30) == 0
    assert "stopped" in server.log


@pytest.mark.parametrize("device", ["cuda"])
def test_cuda_without_cuda_fails_at_start(models_dir: Path, device: str) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("CUDA is available here")
    done = subprocess.run(
        [sys.executable, "-m", "seqserve.server", "--models", str(models_dir), "--port", "0",
         "--device", device],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "CUDAExecutionProvider" in done.stderr and "--device cpu" in done.stderr


def test_port_in_use_fails_at_start_with_a_message(models_dir: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "seqserve.server", "--models", str(models_dir),
             "--port", str(port), "--http-port", "-1"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot bind 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_default_deadline_applies_to_calls_without_one(
    launch_server, models_dir, manifests
) -> None:  # type: ignore[no-untyped-def]
    server = launch_server(models_dir, "--default-deadline", "0.000001")
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        for kind in (pb.SERVING_KIND_SEQ2SEQ, pb.SERVING_KIND_CLASSIFY):
            name = kind_models(manifests, kind)[0]
            spec = manifests[name].input
            request = pb.PredictRequest(model=name, inputs=[ints(*[spec.min_value] * spec.length)])
            code, message = code_of(lambda r=request: stub.Predict(r))
            assert code == grpc.StatusCode.DEADLINE_EXCEEDED and "deadline" in message
            code, _ = code_of(lambda r=request: list(stub.PredictStream(r)))
            assert code == grpc.StatusCode.DEADLINE_EXCEEDED
