"""Concurrent steps of different sessions share one step-graph call (real recall graph)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from seqserve.server.engines import StepEngine
from seqserve.server.errors import Overloaded, SessionNotFound
from seqserve.server.sessions import SessionStore
from seqserve.v1 import seqserve_pb2 as pb

from .conftest import load_newest
from .execution.test_decode import GatedSession, wait_for
from .test_sessions import TUTORIAL


@pytest.fixture
def loaded(models_dir: Path, manifests: dict) -> Iterator[object]:
    version = load_newest(models_dir, manifests, pb.SERVING_KIND_STATEFUL_STEP)
    assert isinstance(version.engine, StepEngine), version.reason
    version.engine._session = GatedSession(version.engine._session)
    version.engine.batcher.lane.limit = 0  # every step through the worker (no fast lane)
    yield version
    version.engine.stop()


async def test_steps_of_different_sessions_run_as_one_call(loaded) -> None:  # type: ignore[no-untyped-def]
    engine = loaded.engine
    engine.start(asyncio.get_running_loop())
    calls: GatedSession = engine._session
    store = SessionStore(max_sessions=10, idle_timeout=60)
    sessions = [store.open(loaded) for _ in range(4)]
    calls.gate.clear()
    first = asyncio.create_task(sessions[0].step(TUTORIAL[0][0]))
    await wait_for(calls.entered)
    rest = [asyncio.create_task(s.step(TUTORIAL[k % 2][0])) for k, s in enumerate(sessions[1:])]
    await asyncio.sleep(0.05)
    calls.gate.set()
    answers = [await first] + [await t for t in rest]
    assert calls.sizes == [1, 3]
    assert [a.symbol for a in answers] == [0, 0, 0, 0]  # both tutorial sequences go to 0 first
    assert all(a.steps == 1 for a in answers)
    assert [s.steps for s in sessions] == [1, 1, 1, 1]


async def test_session_bound_and_idle_eviction(loaded) -> None:  # type: ignore[no-untyped-def]
    loaded.engine.start(asyncio.get_running_loop())
    store = SessionStore(max_sessions=2, idle_timeout=0.05)
    first = store.open(loaded)
    store.open(loaded)
    with pytest.raises(Overloaded, match="2 open"):
        store.open(loaded)
    await asyncio.sleep(0.1)
    third = store.open(loaded)  # the idle ones were evicted to make room
    assert len(store) == 1
    with pytest.raises(SessionNotFound):
        store.get(first.id)
    assert store.get(third.id) is third
