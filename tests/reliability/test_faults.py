"""Fault isolation: an onnxruntime error fails only its batch, with INTERNAL and a generic
message whose request id leads to the details in the log; the server keeps serving."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import newest, place_version
from .poison import NAME, POISON, write_poisoned

if TYPE_CHECKING:
    from conftest import RunningServer

GOOD = [0, 1, 7, 3, 4]  # echoes 7
BAD = [POISON, 1, 7, 3, 4]


def request(*items: list[int], model: str = NAME) -> pb.PredictRequest:
    return pb.PredictRequest(model=model, inputs=[pb.Input(ints=pb.Ints(values=x)) for x in items])


def test_runtime_error_fails_only_its_batch(
    models_dir: Path, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    repo = tmp_path / "models"
    write_poisoned(models_dir, repo)
    (repo / "echo_vanilla").mkdir(parents=True)
    place_version(newest(models_dir, "echo_vanilla"), repo / "echo_vanilla", 1)
    server = launch_server(repo)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        assert stub.Predict(request(GOOD), timeout=10).results[0].ints.values == [7]
        for _ in range(3):
            try:
                stub.Predict(request(BAD), timeout=10)
                raise AssertionError("the poisoned input did not fail")
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.INTERNAL
                details = exc.details() or ""
        assert "onnxruntime" not in details.lower() and "reshape" not in details.lower()
        match = re.search(r"request id ([0-9a-f]+)", details)
        assert match, details
        # the same model and the others keep serving, concurrently too
        failures: list[grpc.StatusCode] = []
        answers: list[list[int]] = []

        def mixed(index: int) -> None:
            bad = index % 4 == 0
            try:
                result = stub.Predict(request(BAD if bad else GOOD), timeout=10).results[0]
                assert not bad, "a poisoned batch answered"
                answers.append(list(result.ints.values))
            except grpc.RpcError as exc:
                failures.append(exc.code())

        threads = [threading.Thread(target=mixed, args=(i,)) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert set(failures) == {grpc.StatusCode.INTERNAL}  # a co-batched good one may fail
        assert len(failures) + len(answers) == 40  # every call answered, once
        assert len(failures) >= 10 and all(a == [7] for a in answers)
        assert stub.Predict(request(GOOD), timeout=10).results[0].ints.values == [7]
        other = stub.Predict(request(GOOD, model="echo_vanilla"), timeout=10)
        assert len(other.results) == 1
    assert server.process.poll() is None
    log = server.log
    assert match.group(1) in log and "Reshape" in log  # the details are in the log


def test_changed_and_vanished_files_keep_serving(
    models_dir: Path, tmp_path: Path, launch_server: Callable[..., RunningServer]
) -> None:
    """Files changed, then removed, after load: answers come from memory; a poll reports
    each."""
    repo = tmp_path / "models"
    (repo / "echo_vanilla").mkdir(parents=True)
    place_version(newest(models_dir, "echo_vanilla"), repo / "echo_vanilla", 1)
    server = launch_server(repo, "--poll", "0.2")
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        before = stub.Predict(request(GOOD, model="echo_vanilla"), timeout=10)

        def reason_with(text: str) -> pb.ModelStatus:
            for _ in range(100):
                status = stub.GetModel(pb.GetModelRequest(name="echo_vanilla"), timeout=10)
                if text in status.reason:
                    break
                threading.Event().wait(0.1)
            return status

        graph = repo / "echo_vanilla" / "1" / "model.onnx"
        graph.write_bytes(graph.read_bytes() + b"\0")  # changed in place
        status = reason_with("changed")
        assert status.ready and "version 1 files changed on disk after load" in status.reason
        changed = stub.Predict(request(GOOD, model="echo_vanilla"), timeout=10)
        assert changed.results[0].ints.values == before.results[0].ints.values
        shutil.rmtree(repo / "echo_vanilla")
        status = reason_with("removed")
        assert status.ready and "version 1 files were removed on disk after load" in status.reason
        after = stub.Predict(request(GOOD, model="echo_vanilla"), timeout=10)
        assert after.results[0].ints.values == before.results[0].ints.values
