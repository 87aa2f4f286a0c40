"""Chaos: kill -9 under load and restart on the same port; cancelled streams; deadlines
under saturation."""

from __future__ import annotations

import random
import signal
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from seqserve.client import Client, DeadlineExceeded, Snapshot
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .workload import BackgroundLoad, as_message, key, valid_input

if TYPE_CHECKING:
    from conftest import RunningServer

RECALL_RUN = [3, 0, 1, 2, 4, 0, 1, 2, 3, 0, 1, 2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PredictLoad(BackgroundLoad):
    """Threads calling Predict through `Client` (its retry policy) and checking answers."""

    def __init__(self, target: str, cases: list[tuple[str, object, tuple[object, ...]]]) -> None:
        self.errors: list[str] = []
        self.answered = 0
        self._target, self._cases = target, cases
        super().__init__(threads=6)

    def _run(self, index: int) -> None:
        rng = random.Random(index)
        with Client(self._target, timeout=30, wait_for_ready=True) as client:
            while not self._stop.is_set():
                name, x, expected = rng.choice(self._cases)
                try:
                    answer = client.predict(name, x)  # type: ignore[call-overload]
                    got = key(answer_message(answer))
                    ok = got == expected or (got[0] == "value" and abs(got[1] - expected[1]) < 0.02)  # type: ignore[operator]
                except Exception as exc:
                    with self._lock:
                        self.errors.append(f"{name}: {exc!r}"[:300])
                    continue
                with self._lock:
                    self.answered += 1
                    if not ok:
                        self.errors.append(f"{name}: {got} != {expected}")


def answer_message(answer: object) -> pb.Result:
    """A client `Prediction` back as a `Result`, to compare with `key`."""
    result = pb.Result()
    if answer.text is not None:  # type: ignore[attr-defined]
        result.text = answer.text  # type: ignore[attr-defined]
    elif answer.ints is not None:  # type: ignore[attr-defined]
        result.ints.values.extend(answer.ints)  # type: ignore[attr-defined]
    else:
        result.value = answer.value  # type: ignore[attr-defined]
    return result


def reference_cases(target: str) -> list[tuple[str, object, tuple[object, ...]]]:
    rng = random.Random(3)
    cases = []
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        for status in stub.ListModels(pb.ListModelsRequest(), timeout=10).models:
            info = status.info
            if info.kind == pb.SERVING_KIND_STATEFUL_STEP:
                continue
            for _ in range(4):
                x = valid_input(info, rng)
                request = pb.PredictRequest(model=info.name, inputs=[as_message(x)])
                cases.append((info.name, x, key(stub.Predict(request, timeout=10).results[0])))
    return cases


def recall_reference(target: str) -> list[int]:
    with Client(target) as client, client.session("recall") as session:
        return [session.step(s).symbol for s in RECALL_RUN]


def test_kill9_and_restart_under_load(
    repo: Path, launch_server: Callable[..., RunningServer]
) -> None:
    port = free_port()
    server = launch_server(repo, "--port", str(port))
    target = server.target
    cases = reference_cases(target)
    expected_steps = recall_reference(target)
    steps: list[int] = []
    resumed = 0
    with PredictLoad(target, cases) as load, Client(target, timeout=30) as client:
        session = client.session("recall").open()
        snapshot: Snapshot | None = None
        for index, symbol in enumerate(RECALL_RUN):
            if index == len(RECALL_RUN) // 2:
                time.sleep(0.5)
                server.process.send_signal(signal.SIGKILL)
                server.process.wait(10)
                server = launch_server(repo, "--port", str(port), wait=False)
            try:
                steps.append(session.step(symbol).symbol)
            except Exception:
                # the session lived in the killed process: resume from the last snapshot
                resumed += 1
                deadline = time.monotonic() + 30
                while True:
                    try:
                        session = client.session("recall", snapshot=snapshot).open()
                        break
                    except Exception:
                        assert time.monotonic() < deadline, "server never came back"
                        time.sleep(0.1)
                steps.append(session.step(symbol).symbol)
            snapshot = session.snapshot()
        time.sleep(1.0)
    assert resumed == 1
    assert steps == expected_steps
    assert load.errors == [], load.errors[:5]
    assert load.answered > 0
    assert server.process.poll() is None


def test_cancelled_streams_leave_nothing_behind(
    repo: Path, launch_server: Callable[..., RunningServer]
) -> None:
    """1,000 streams cancelled mid-decode: the decoder's active set and queues drain.

    Seen two ways: a request of exactly the decoder's capacity (active set + queue) is
    accepted afterwards, which it is only if nothing cancelled still holds a place; and,
    where the metrics endpoint serves them, the queue-depth and active-sequence gauges are 0.
    """
    metrics_port = free_port()
    active, queued = 16, 64
    server = launch_server(
        repo,
        *("--max-active-sequences", str(active), "--max-queue", str(queued)),
        *("--metrics-port", str(metrics_port)),
    )
    item = pb.Input(ints=pb.Ints(values=[1, 2, 3, 4, 5, 6]))
    request = pb.PredictRequest(model="reverse", inputs=[item] * 8)
    full = pb.PredictRequest(model="reverse", inputs=[item] * (active + queued))
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        calls = []
        for index in range(1000):
            calls.append(stub.PredictStream(request, timeout=30))
            if index % 8 == 7:  # cancel in waves: queued, decoding, some not yet arrived
                for pending in calls:
                    pending.cancel()
                calls.clear()
        for pending in calls:
            pending.cancel()
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = stub.Predict(full, timeout=10)
                break
            except grpc.RpcError as exc:  # the last cancellations leave at the next step
                # (or the transport still counts them against the connection's stream
                # limit: the stream is refused, UNAVAILABLE, safe to retry)
                codes = (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE)
                assert exc.code() in codes, exc
                assert time.monotonic() < deadline, "cancelled streams still hold places"
                time.sleep(0.1)
        assert len(answer.results) == active + queued
        load = decode_load(f"http://127.0.0.1:{metrics_port}/metrics")
        assert load in (None, (0.0, 0.0)), f"after the drain: {load}"
    assert server.process.poll() is None


def decode_load(metrics_url: str) -> tuple[float, float] | None:
    """(active sequences, queued items) of `reverse` from the Prometheus endpoint; None
    where it does not serve those gauges."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as reply:
            text = reply.read().decode()
    except OSError:
        return None
    values = {"seqserve_active_sequences": 0.0, "seqserve_queue_depth": 0.0}
    seen = set()
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if name in values and 'model="reverse"' in rest:
            values[name] += float(line.rsplit(" ", 1)[1])
            seen.add(name)
    if seen != set(values):
        return None
    return values["seqserve_active_sequences"], values["seqserve_queue_depth"]


def test_deadline_under_saturation(repo: Path, launch_server: Callable[..., RunningServer]) -> None:
    """A 50 ms deadline answers DEADLINE_EXCEEDED within 100 ms while the server is saturated."""
    # a small active set makes the decoder the bottleneck: requests queue behind it
    server = launch_server(repo, "--max-active-sequences", "8", "--max-queue", "4096")
    batch = [[1, 2, 3, 4, 5, 6]] * 64
    request = pb.PredictRequest(
        model="reverse", inputs=[pb.Input(ints=pb.Ints(values=x)) for x in batch]
    )
    latencies: list[float] = []
    outcomes: list[str] = []
    # the load is 40 calls kept in flight by gRPC's own threads (no Python thread per
    # call competing for the GIL with the timed caller)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        in_flight = [stub.Predict.future(request, timeout=30) for _ in range(40)]
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            in_flight = [f if not f.done() else stub.Predict.future(request, timeout=30)
                         for f in in_flight]  # fmt: skip
            time.sleep(0.005)
        with Client(server.target) as client:
            client.info("reverse")
            for _ in range(10):
                in_flight = [f if not f.done() else stub.Predict.future(request, timeout=30)
                             for f in in_flight]  # fmt: skip
                started = time.perf_counter()
                try:
                    client.predict("reverse", batch, timeout=0.05)
                    outcomes.append("OK")
                except DeadlineExceeded:
                    outcomes.append("DeadlineExceeded")
                latencies.append(time.perf_counter() - started)
        for future in in_flight:
            future.cancel()
    print(
        f"\ndeadline 50 ms under saturation: {outcomes}, ms {[round(x * 1e3) for x in latencies]}"
    )
    # saturated: most calls cannot finish in 50 ms; any that did was answered in time
    assert set(outcomes) <= {"DeadlineExceeded", "OK"}, outcomes
    assert outcomes.count("DeadlineExceeded") >= 7, outcomes
    # within 100 ms; on this shared 2-core machine the saturated server can keep the
    # timed caller off the CPU now and then, so one call in ten may take longer
    assert sorted(latencies)[-2] < 0.100, latencies
    assert max(latencies) < 0.5, latencies
    assert server.process.poll() is None
