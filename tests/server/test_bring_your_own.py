"""Sequence models nobody here trained (`byo_models`) served by the decode loop and the
session store from their hand-written manifests: answers worked out by hand, continuous
batching of answers of different lengths, and manifests the graphs disagree with refused."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as triton

from seqserve.client import Client, ModelNotReady
from seqserve.contract.manifest import read_manifest, write_manifest

from .byo_models import (
    LENGTH,
    VOCABULARY,
    countdown_answer,
    write_countdown,
    write_previous,
)

SOURCES = [[k, 1, 2, 3] for k in range(1, VOCABULARY)]


def _rename_state(folder: Path) -> None:
    info = read_manifest(folder)
    info.graphs[0].outputs[0].name = "hidden"
    write_manifest(folder, info)


# model -> (make its version folder, words of the reason it is not ready)
BAD: dict[str, tuple[Callable[[Path, str], Any], tuple[str, ...]]] = {
    "state_shapes": (
        lambda f, n: write_countdown(f, n, state=5),
        ("state shapes disagree", "memory_in", "state_size=6"),
    ),
    "end_not_a_symbol": (
        lambda f, n: write_countdown(f, n, end_symbol=9),
        ("decode.end_symbol 9", "0-5"),
    ),
    "unknown_state_name": (
        lambda f, n: (write_countdown(f, n), _rename_state(f)),
        ("hidden", "memory"),
    ),
    "state_size": (
        lambda f, n: write_countdown(f, n, state_size=8),
        ("state shapes disagree", "state_size=8"),
    ),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("byo")
    write_countdown(root / "countdown" / "1")
    fixed = write_countdown(root / "countdown_fixed" / "1", "countdown_fixed")
    fixed.decode.ClearField("end_symbol")  # the same graphs, fixed-length answers
    write_manifest(root / "countdown_fixed" / "1", fixed)
    write_previous(root / "previous" / "1")
    for name, (make, _) in BAD.items():
        make(root / name / "1", name)
    return root


SERVERS = {
    "fast lane": (),
    "decode worker": ("--inline-max-items", "0"),
    "device state": ("--inline-max-items", "0", "--decode-state", "device"),
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def target(request: pytest.FixtureRequest, repo: Path, launch_server: Callable[..., Any]) -> str:
    """A server deciding small idle requests in-line; one sending all to the decode worker;
    one whose worker keeps the state in onnxruntime buffers bound to the graphs (I/O
    binding, as on CUDA; here on the CPU)."""
    return str(launch_server(repo, *SERVERS[request.param]).target)


@pytest.fixture(scope="module")
def client(target: str) -> Iterator[Client]:
    with Client(target) as connected:
        yield connected


def test_countdown_answers_stop_at_the_end_symbol(client: Client) -> None:
    answers = client.predict("countdown", SOURCES)
    assert [list(a.ints) for a in answers] == [countdown_answer(s) for s in SOURCES]
    assert [list(a.ints) for a in answers] == [[], [1], [2, 1], [3, 2, 1], [4, 3, 2]]
    assert all(len(a.confidence) == len(a.ints) for a in answers)


def test_fixed_length_without_an_end_symbol(client: Client) -> None:
    answers = client.predict("countdown_fixed", SOURCES)
    assert [list(a.ints) for a in answers] == [
        [0, 0, 0],
        [1, 0, 0],
        [2, 1, 0],
        [3, 2, 1],
        [4, 3, 2],
    ]


def test_continuous_batching_of_answers_of_different_lengths(client: Client) -> None:
    rng = random.Random(7)
    requests = [
        [[rng.randint(1, VOCABULARY - 1) for _ in range(LENGTH)] for _ in range(rng.randint(1, 4))]
        for _ in range(48)
    ]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda r: client.predict("countdown", r), requests))
    for request, answer in zip(requests, answers, strict=True):
        assert [list(a.ints) for a in answer] == [countdown_answer(s) for s in request]


def test_stream_sends_each_symbol_but_not_the_end(client: Client) -> None:
    events = list(client.stream("countdown", [[4, 1, 1, 1], [1, 1, 1, 1]]))
    *symbols, final = events
    assert sorted((e.item, e.position, e.symbol) for e in symbols) == [
        (0, 0, 3),
        (0, 1, 2),
        (0, 2, 1),
    ]
    assert [list(p.ints) for p in final] == [[3, 2, 1], []]


def test_kserve_pads_shorter_answers(target: str) -> None:
    kserve = triton.InferenceServerClient(target)
    try:
        tensor = triton.InferInput("INPUT", [len(SOURCES), LENGTH], "INT64")
        tensor.set_data_from_numpy(np.array(SOURCES, dtype=np.int64))
        result = kserve.infer("countdown", [tensor])
        assert result.as_numpy("OUTPUT").tolist() == [
            [-1, -1, -1],
            [1, -1, -1],
            [2, 1, -1],
            [3, 2, 1],
            [4, 3, 2],
        ]
        assert result.as_numpy("CONFIDENCE")[:, 0].tolist() == [0, 1, 1, 1, 1]
        outputs = kserve.get_model_metadata("countdown").outputs
        assert [list(o.shape) for o in outputs] == [[-1, -1], [-1, -1]]
    finally:
        kserve.close()


def test_stateful_step_model_of_your_own(client: Client) -> None:
    with client.session("previous") as session:
        steps = [session.step(symbol) for symbol in (3, 1, 4, 2, 2)]
    assert [s.symbol for s in steps] == [0, 3, 1, 4, 2]
    assert steps[1].probabilities == (0.0, 0.0, 0.0, 1.0, 0.0)


@pytest.mark.parametrize("name", sorted(BAD))
def test_decode_manifest_the_graphs_disagree_with(name: str, client: Client) -> None:
    (status,) = [m for m in client.models() if m.info.name == name]
    assert not status.ready
    for word in BAD[name][1]:
        assert word in status.reason, (word, status.reason)
    with pytest.raises(ModelNotReady):
        client.predict(name, [SOURCES[0]])


def test_others_serve_beside_them(client: Client) -> None:
    ready = {m.info.name for m in client.models() if m.ready}
    assert ready == {"countdown", "countdown_fixed", "previous"}
