"""Stateful sessions of stateful_step models over the bidirectional Session stream."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

from .conftest import kind_models, newest
from .reference import step_probabilities

TUTORIAL = ([3, 0, 1, 2, 3], [4, 0, 1, 2, 4])


class Conversation:
    """One Session stream driven request by request."""

    def __init__(self, stub: pb_grpc.SeqServeStub) -> None:
        self._requests: queue.Queue[pb.SessionRequest | None] = queue.Queue()
        self._responses = stub.Session(iter(self._requests.get, None), timeout=60)

    def send(self, **action: object) -> pb.SessionResponse:
        self._requests.put(pb.SessionRequest(**action))  # type: ignore[arg-type]
        return next(self._responses)

    def open(self, **fields: object) -> str:
        return self.send(open=pb.SessionOpen(**fields)).opened.session_id  # type: ignore[arg-type]

    def step(self, symbol: int) -> pb.StepResult:
        return self.send(step=pb.SessionStep(symbol=symbol)).step

    def end(self) -> None:
        self._requests.put(None)
        for _ in self._responses:
            pass


@pytest.fixture(scope="module")
def recall(manifests: dict[str, pb.ModelInfo]) -> str:
    names = kind_models(manifests, pb.SERVING_KIND_STATEFUL_STEP)
    assert names, "no stateful_step model exported"
    return names[0]


@pytest.fixture
def talk(stub: pb_grpc.SeqServeStub) -> Iterator[Callable[[], Conversation]]:
    opened: list[Conversation] = []

    def start() -> Conversation:
        opened.append(Conversation(stub))
        return opened[-1]

    yield start
    for conversation in opened:
        conversation._requests.put(None)


def test_predicts_both_tutorial_sequences_at_every_step(talk, recall: str) -> None:
    for sequence in TUTORIAL:
        session = talk()
        session.open(model=recall)
        predicted = [session.step(s).symbol for s in sequence[:-1]]
        assert predicted == sequence[1:]


def test_steps_match_the_graph_run_directly(
    talk, recall: str, models_dir: Path, manifests: dict
) -> None:
    info = manifests[recall]
    symbols = np.random.default_rng(5).integers(0, info.input.cardinality, 200).tolist()
    want = step_probabilities(newest(models_dir, recall), symbols)
    session = talk()
    session.open(model=recall)
    for t, symbol in enumerate(symbols):
        got = session.step(symbol)
        assert got.steps == t + 1
        assert got.symbol == int(want[t].argmax())
        assert list(got.probabilities) == pytest.approx(want[t].tolist(), abs=1e-5)


def test_interleaved_sessions_are_independent(talk, recall: str) -> None:
    a, b = talk(), talk()
    id_a, id_b = a.open(model=recall), b.open(model=recall)
    assert id_a != id_b
    got_a, got_b = [], []
    for x, y in zip(TUTORIAL[0][:-1], TUTORIAL[1][:-1], strict=True):
        got_a.append(a.step(x).symbol)
        got_b.append(b.step(y).symbol)
    assert got_a == TUTORIAL[0][1:]
    assert got_b == TUTORIAL[1][1:]


def test_concurrent_sessions_from_threads(stub: pb_grpc.SeqServeStub, recall: str) -> None:
    outcomes: list[list[int]] = []
    lock = threading.Lock()

    def run(sequence: list[int]) -> None:
        session = Conversation(stub)
        session.open(model=recall)
        got = [session.step(s).symbol for s in sequence[:-1]]
        session.end()
        with lock:
            outcomes.append(got)

    threads = [threading.Thread(target=run, args=(TUTORIAL[k % 2],)) for k in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == sorted([TUTORIAL[k % 2][1:] for k in range(16)])


def test_reset_starts_from_zeros_again(talk, recall: str) -> None:
    session = talk()
    session.open(model=recall)
    first = [session.step(s) for s in TUTORIAL[0][:-1]]
    assert session.send(reset=pb.SessionReset()).WhichOneof("event") == "reset"
    again = [session.step(s) for s in TUTORIAL[0][:-1]]
    assert [r.symbol for r in again] == [r.symbol for r in first]
    assert [list(r.probabilities) for r in again] == [list(r.probabilities) for r in first]
    assert again[0].steps == 1


def test_snapshot_resume_continues_correctly(talk, recall: str) -> None:
    sequence = TUTORIAL[1]
    original = talk()
    original.open(model=recall)
    for s in sequence[:3]:
        original.step(s)
    snap = original.send(snapshot=pb.SessionSnapshot()).snapshot
    assert snap.model == recall and snap.steps == 3
    resumed = talk()
    resumed.open(model=recall, state=snap)
    for s, want in ((sequence[3], sequence[4]),):
        got = resumed.step(s)
        assert got.symbol == want
        assert got.steps == 4
        assert list(original.step(s).probabilities) == list(got.probabilities)


def test_reattach_by_id_and_close(talk, recall: str) -> None:
    first = talk()
    session_id = first.open(model=recall)
    first.step(TUTORIAL[0][0])
    first.end()
    second = talk()
    assert second.open(session_id=session_id) == session_id
    assert second.step(TUTORIAL[0][1]).steps == 2
    assert second.send(close=pb.SessionClose()).WhichOneof("event") == "closed"
    with pytest.raises(grpc.RpcError) as raised:
        talk().open(session_id=session_id)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_idle_session_is_evicted(launch_server, models_dir: Path, recall: str) -> None:
    server = launch_server(models_dir, "--session-idle-timeout", "0.3")
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.SeqServeStub(channel)
        session = Conversation(stub)
        session_id = session.open(model=recall)
        session.step(TUTORIAL[0][0])
        time.sleep(1.0)
        with pytest.raises(grpc.RpcError) as raised:
            session.step(TUTORIAL[0][1])
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
        assert session_id in raised.value.details()  # type: ignore[attr-defined]
        again = Conversation(stub)
        with pytest.raises(grpc.RpcError) as raised:
            again.open(session_id=session_id)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
