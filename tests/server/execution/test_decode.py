"""The seq2seq engine in-process on the real exported graphs: continuous batching,
cancellation and deadlines, observed through the decoder calls it makes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from seqserve.server.engines import Seq2SeqEngine
from seqserve.server.errors import DeadlineExceeded
from seqserve.server.results import Final, SymbolEvent
from seqserve.v1 import seqserve_pb2 as pb

from ..conftest import load_newest, newest
from ..reference import expected


class GatedSession:
    """Wraps an onnxruntime session: records each call's batch size, can hold calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sizes: list[int] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def run(self, names: Any, feeds: dict[str, np.ndarray]) -> Any:
        self.sizes.append(len(next(iter(feeds.values()))))
        self.entered.set()
        self.gate.wait(10)
        return self.inner.run(names, feeds)


@pytest.fixture
def engine(models_dir: Path, manifests: dict) -> Iterator[Seq2SeqEngine]:
    """The real seq2seq engine with a gated decoder; each test starts it on its own loop."""
    loaded = load_newest(models_dir, manifests, pb.SERVING_KIND_SEQ2SEQ)
    assert isinstance(loaded.engine, Seq2SeqEngine), loaded.reason
    engine = loaded.engine
    engine.worker.state._decoder = GatedSession(engine.worker.state._decoder)  # type: ignore[attr-defined]
    engine.lane.limit = 0  # every request through the worker (no fast lane)
    yield engine
    engine.stop()


def decoder(engine: Seq2SeqEngine) -> GatedSession:
    """Start the engine on the running loop; return its recording decoder."""
    engine.start(asyncio.get_running_loop())
    gated = engine.worker.state._decoder  # type: ignore[attr-defined]
    assert isinstance(gated, GatedSession)
    return gated


async def wait_for(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10)


async def test_newcomers_join_sequences_already_decoding(
    engine: Seq2SeqEngine, models_dir: Path
) -> None:
    calls = decoder(engine)
    steps = engine.info.decode.steps
    sources = [(1, 2, 3, 4, 5, 6), (7, 8, 9, 10, 11, 12), (50, 40, 30, 20, 10, 1)]
    calls.gate.clear()
    first = asyncio.create_task(engine.predict(sources[:1], None))
    await wait_for(calls.entered)  # the first sequence is mid-step
    later = asyncio.create_task(engine.predict(sources[1:], None))
    await asyncio.sleep(0.05)
    calls.gate.set()
    got = await first + await later
    # step 1: one row; then the two newcomers join at once; the first retires after `steps`.
    assert calls.sizes == [1] + [3] * (steps - 1) + [2]
    want = expected(newest(models_dir, engine.info.name), [list(s) for s in sources])
    assert [list(r.symbols) for r in got] == [w["ints"] for w in want]


async def test_cancelled_call_leaves_the_active_set_at_the_next_step(
    engine: Seq2SeqEngine,
) -> None:
    calls = decoder(engine)
    calls.gate.clear()
    task = asyncio.create_task(engine.predict([(1, 2, 3, 4, 5, 6)] * 4, None))
    await wait_for(calls.entered)
    task.cancel()
    await asyncio.sleep(0.05)
    calls.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not engine.worker.scheduler.has_work:
            break
        await asyncio.sleep(0.01)
    assert engine.worker.scheduler.active == 0 and engine.worker.scheduler.waiting == 0
    assert calls.sizes == [4]  # the step in flight finished; no further step was run
    assert len(await engine.predict([(1, 2, 3, 4, 5, 6)], None)) == 1


async def test_expired_deadline_stops_decoding(engine: Seq2SeqEngine) -> None:
    calls = decoder(engine)
    with pytest.raises(DeadlineExceeded):
        await engine.predict([(1, 2, 3, 4, 5, 6)], time.monotonic() - 1)
    assert calls.sizes == []
    assert not engine.worker.scheduler.has_work


async def test_stream_yields_symbols_then_results(engine: Seq2SeqEngine) -> None:
    decoder(engine)
    events = [e async for e in engine.stream([(1, 2, 3, 4, 5, 6), (6, 5, 4, 3, 2, 1)], None)]
    *symbols, final = events
    assert isinstance(final, Final) and len(final.results) == 2
    assert len(symbols) == 2 * engine.info.decode.steps
    for item, result in enumerate(final.results):
        mine = [e.symbol for e in symbols if isinstance(e, SymbolEvent) and e.item == item]
        assert mine == list(result.symbols)
