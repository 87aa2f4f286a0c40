"""The seq2seq decode worker's two state stores on the real exported graphs.

`DeviceState` keeps decoder state in execution-device buffers bound with onnxruntime I/O
binding (the store `--decode-state auto` picks on CUDA). Here it runs on the CPU execution
provider, which has the same binding API, step by step against `HostState`: free slots
inside a step's span, non-consecutive admissions and swapped buffers must all leave every
live sequence's state exactly where the host store has it.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import numpy as np
import pytest

from seqserve.server.engines import Seq2SeqEngine
from seqserve.server.execution.state import (
    DecodeGraphs,
    DeviceState,
    HostState,
    StateStore,
    decode_state,
)
from seqserve.server.onehot import OneHot
from seqserve.server.repository import load_version
from seqserve.server.runtime import SessionFactory
from seqserve.server.settings import DecodeState, Settings
from seqserve.server.totals import Totals
from seqserve.v1 import seqserve_pb2 as pb

from ..conftest import kind_models, newest
from ..reference import expected, fresh_inputs

ROWS = 8


@pytest.fixture(scope="module")
def seq2seq(models_dir: Path, manifests: dict[str, pb.ModelInfo]) -> tuple[str, pb.ModelInfo]:
    name = kind_models(manifests, pb.SERVING_KIND_SEQ2SEQ)[0]
    return name, manifests[name]


def stores(models_dir: Path, name: str, info: pb.ModelInfo) -> tuple[HostState, DeviceState]:
    factory = SessionFactory(Settings(models=models_dir))
    folder = newest(models_dir, name)
    files = {g.role: folder / g.file for g in info.graphs}
    encoder = factory.create(files[pb.GRAPH_ROLE_ENCODER])
    decoder = factory.create(files[pb.GRAPH_ROLE_DECODER_STEP])
    return (
        HostState(info, encoder, decoder, ROWS),
        DeviceState(info, encoder, decoder, ROWS, "cpu"),
    )


def test_device_state_steps_as_host_state_with_gaps_and_scattered_admissions(
    models_dir: Path, seq2seq: tuple[str, pb.ModelInfo]
) -> None:
    name, info = seq2seq
    host, device = stores(models_dir, name, info)
    onehot = OneHot(DecodeGraphs(info).source_shape, ROWS)
    sources = np.asarray(fresh_inputs(info, ROWS, seed=11), dtype=np.int64)
    start = int(info.decode.start_symbol)
    fed: dict[int, int] = {}  # slot -> the symbol it is fed next

    def admit(*slots: int) -> None:
        at = np.asarray(slots, dtype=np.int64)
        for store in (host, device):
            store.encode(at, onehot(sources[at]))
        fed.update((slot, start) for slot in slots)

    def step(*slots: int) -> None:
        at = np.asarray(slots, dtype=np.int64)
        symbols = np.asarray([fed[s] for s in slots], dtype=np.int64)
        span = int(at[-1]) - int(at[0]) + 1
        packed = slice(int(at[0]), int(at[-1]) + 1) if span == len(at) else None
        want = host.step(at, symbols, packed)
        got = device.step(at, symbols, packed)
        assert got.shape == want.shape == (len(slots), DecodeGraphs(info).vocabulary)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        fed.update(zip(slots, want.argmax(axis=1).tolist(), strict=True))

    admit(0, 1, 2)  # consecutive: the encoder writes straight into the rows
    step(0, 1, 2)
    admit(4, 6)  # scattered: through the host
    step(0, 1, 2, 4, 6)  # free slots 3 and 5 inside the span
    step(1, 4)  # 0, 2 and 6 retired: a span from 1 to 4
    admit(0, 2, 3)
    step(0, 1, 2, 3, 4)
    step(0, 1, 2, 3, 4)  # the same rows again: state read from the swapped buffers
    admit(7)
    step(3, 7)


async def test_engine_on_device_state_answers_as_the_graphs_do(
    models_dir: Path, seq2seq: tuple[str, pb.ModelInfo]
) -> None:
    name, info = seq2seq
    settings = Settings(
        models=models_dir,
        decode_state=DecodeState.DEVICE,
        inline_max_items=0,  # every request through the decode worker
        max_active_sequences=16,
    )
    folder = newest(models_dir, name)
    factory = SessionFactory(settings)
    loaded = load_version(folder, name, int(folder.name), factory, settings, Totals())
    engine = loaded.engine
    assert isinstance(engine, Seq2SeqEngine), loaded.reason
    assert isinstance(engine.worker.state, DeviceState)
    engine.start(asyncio.get_running_loop())
    rng = random.Random(5)
    requests = [fresh_inputs(info, rng.randint(1, 5), seed=k) for k in range(24)]

    async def call(k: int) -> list[list[int]]:
        await asyncio.sleep(rng.random() * 0.02)  # arrivals spread over decode steps
        got = await engine.predict([tuple(x) for x in requests[k]], None)  # type: ignore[arg-type]
        return [list(r.symbols) for r in got]

    try:
        answers = await asyncio.gather(*(call(k) for k in range(len(requests))))
    finally:
        engine.stop()
    for items, got in zip(requests, answers, strict=True):
        assert got == [w["ints"] for w in expected(folder, items)]


def test_auto_keeps_state_on_the_host_on_cpu(
    models_dir: Path, seq2seq: tuple[str, pb.ModelInfo]
) -> None:
    name, info = seq2seq
    host, _ = stores(models_dir, name, info)
    encoder, decoder = host._encoder, host._decoder

    def store(where: DecodeState) -> StateStore:
        return decode_state(info, encoder, decoder, ROWS, where)

    assert isinstance(store(DecodeState.AUTO), HostState)
    assert isinstance(store(DecodeState.HOST), HostState)
    assert isinstance(store(DecodeState.DEVICE), DeviceState)
