"""The idle fast lane, in-process on the real exported graphs: a small request to an idle
engine runs at once on the event loop, with the same answers and errors as the worker;
anything else goes through the worker and its batching as before.

Each engine's onnxruntime sessions are wrapped to note every call (on the event-loop thread
or a worker's, and how many rows) and to hold worker-thread calls at a gate.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from seqserve.contract import codecs
from seqserve.contract.manifest import read_manifest, write_manifest
from seqserve.server.engines import Engine, GraphEngine, Seq2SeqEngine, StepEngine
from seqserve.server.engines.step import StepInput
from seqserve.server.errors import DeadlineExceeded
from seqserve.server.execution.fastlane import HOLD, PROBE, QUIET_S
from seqserve.server.repository import load_version
from seqserve.server.results import ItemResult
from seqserve.server.runtime import SessionFactory
from seqserve.server.settings import Settings
from seqserve.server.totals import Totals
from seqserve.v1 import seqserve_pb2 as pb

from ..conftest import edited_copy, kind_models, newest
from ..reference import expected, fresh_inputs
from .test_decode import wait_for

INLINE = Settings().inline_max_items  # the default
TOTALS = Totals()  # what every engine loaded here counts in
GRAPH_KINDS = (
    pb.SERVING_KIND_CLASSIFY,
    pb.SERVING_KIND_TAG,
    pb.SERVING_KIND_FIXED_SEQ2SEQ,
    pb.SERVING_KIND_REGRESS,
)


@dataclass
class Calls:
    """Every onnxruntime call of one engine: (on the event-loop thread, rows)."""

    made: list[tuple[bool, int]] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)  # a worker call began
    gate: threading.Event = field(default_factory=threading.Event)  # worker calls wait for it

    def __post_init__(self) -> None:
        self.gate.set()

    @property
    def on_loop(self) -> list[int]:
        return [rows for inline, rows in self.made if inline]

    @property
    def on_worker(self) -> list[int]:
        return [rows for inline, rows in self.made if not inline]


class Recorded:
    """An onnxruntime session that notes its calls in `calls`."""

    def __init__(self, inner: Any, calls: Calls, role: str) -> None:
        self._inner, self._calls, self.role = inner, calls, role

    def run(self, names: Any, feeds: dict[str, np.ndarray]) -> Any:
        on_loop = threading.current_thread() is threading.main_thread()
        self._calls.made.append((on_loop, len(next(iter(feeds.values())))))
        if not on_loop:
            self._calls.entered.set()
            self._calls.gate.wait(10)
        return self._inner.run(names, feeds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RecordingFactory(SessionFactory):
    def __init__(self, settings: Settings, calls: Calls, only: str | None) -> None:
        super().__init__(settings)
        self._calls, self._only = calls, only

    def create(self, path: Path, settings: Settings | None = None) -> Any:
        session = super().create(path, settings)
        if self._only is not None and path.stem != self._only:
            return session
        return Recorded(session, self._calls, path.stem)


Load = Callable[..., tuple[Any, Calls]]


@pytest.fixture
async def load(models_dir: Path) -> AsyncIterator[Load]:
    """`load(name, folder=None, record=None, **settings)`: a started engine and its calls.

    `record` names the one graph file (stem) to record; all of them by default."""
    started: list[Engine] = []

    def loader(
        name: str, folder: Path | None = None, record: str | None = None, **settings: Any
    ) -> tuple[Any, Calls]:
        folder = folder or newest(models_dir, name)
        config = Settings(models=folder.parent.parent, **settings)
        calls = Calls()
        factory = RecordingFactory(config, calls, record)
        version = load_version(folder, name, int(folder.name), factory, config, TOTALS)
        assert version.engine is not None, version.reason
        version.engine.start(asyncio.get_running_loop())
        started.append(version.engine)
        calls.made.clear()  # warm-up
        return version.engine, calls

    yield loader
    for engine in started:
        engine.stop()


def seq2seq_name(manifests: dict[str, pb.ModelInfo]) -> str:
    return kind_models(manifests, pb.SERVING_KIND_SEQ2SEQ)[0]


def graph_calls_per_request(engine: Engine, in_line: bool) -> int:
    """onnxruntime calls one request makes: one for a single graph, and for an in-line
    decode with the model's greedy graph; else the encoder and each decoder step."""
    if isinstance(engine, GraphEngine):
        return 1
    assert isinstance(engine, Seq2SeqEngine)
    if in_line and any(g.role == pb.GRAPH_ROLE_GREEDY for g in engine.info.graphs):
        return 1
    return 1 + int(engine.info.decode.steps)


def without_greedy(source: Path, repo: Path) -> Path:
    """A copy of a seq2seq model version whose manifest has no greedy graph."""

    def strip(info: pb.ModelInfo) -> None:
        kept = [g for g in info.graphs if g.role != pb.GRAPH_ROLE_GREEDY]
        assert len(kept) < len(info.graphs), "the export writes a greedy graph"
        del info.graphs[:]
        info.graphs.extend(kept)

    return edited_copy(source, repo, strip)


def requests(items: Sequence[Any], largest: int) -> list[list[Any]]:
    """`items` as consecutive requests of 1, 2, ..., `largest`, 1, 2, ... items."""
    out: list[list[Any]] = []
    start, size = 0, 1
    while start < len(items):
        out.append(list(items[start : start + size]))
        start, size = start + size, size % largest + 1
    return out


async def quiet(engine: Engine) -> None:
    """Let the engine's worker finish (on a busy machine its thread can lag behind the answer
    it already posted), then stay quiet long enough for the next request to count as low
    load."""
    until = time.monotonic() + 10
    while not engine.idle and time.monotonic() < until:
        await asyncio.sleep(QUIET_S)
    await asyncio.sleep(5 * QUIET_S)


def in_line(calls: Calls, since: int) -> bool:
    """Whether the request that made the calls after the first `since` ran in the fast lane."""
    made = calls.made[since:]
    assert made and len({inline for inline, _ in made}) == 1, made
    return made[0][0]


def probe_pattern(count: int) -> list[bool]:
    """The lanes of `count` quiet requests, one at a time, to an idle engine: in-line, but
    every `PROBE`-th goes through the worker (looking for company)."""
    return [k % PROBE != 0 for k in range(1, count + 1)]


def encoded(info: pb.ModelInfo, inputs: Sequence[str | list[int]]) -> list[codecs.Encoded]:
    return [codecs.encode(info, item) for item in inputs]


def fresh(manifests: dict[str, pb.ModelInfo], model: str, count: int) -> list[codecs.Encoded]:
    """`count` random valid items of `model`, as the engine gets them."""
    return encoded(manifests[model], fresh_inputs(manifests[model], count, seed=count))


# ------------------------------------------------------------ same answers


async def test_seq2seq_fast_lane_answers_exactly_as_the_worker(
    load: Load, manifests: dict[str, pb.ModelInfo], models_dir: Path
) -> None:
    name = seq2seq_name(manifests)
    fast, fast_calls = load(name)
    worker, worker_calls = load(name, inline_max_items=0)
    inputs = fresh_inputs(manifests[name], 300, seed=11)
    got: list[ItemResult] = []
    lanes: list[bool] = []
    for request in requests(encoded(manifests[name], inputs), INLINE):
        await quiet(fast)
        since = len(fast_calls.made)
        answer = await fast.predict(request, None)
        lanes.append(in_line(fast_calls, since))
        assert answer == await worker.predict(request, None)
        got += answer
    assert lanes == probe_pattern(len(lanes))
    assert worker_calls.on_loop == [] and len(worker_calls.on_worker) > 0
    want = expected(newest(models_dir, name), inputs)
    assert [list(r.symbols) for r in got] == [w["ints"] for w in want]
    for result, answer in zip(got, want, strict=True):
        assert result.confidence == pytest.approx(answer["confidence"], abs=1e-5)


async def test_without_a_greedy_graph_the_fast_lane_runs_the_step_loop(
    load: Load, manifests: dict[str, pb.ModelInfo], models_dir: Path, tmp_path: Path
) -> None:
    """A model exported without `greedy.onnx` serves as well: its in-line decode is the
    encoder and each decoder step, with the answers of the greedy graph."""
    name = seq2seq_name(manifests)
    composed, _ = load(name)
    plain, calls = load(name, without_greedy(newest(models_dir, name), tmp_path))
    steps = int(manifests[name].decode.steps)
    for request in requests(fresh(manifests, name, 30), INLINE):
        await quiet(plain)
        since = len(calls.made)
        answer = await plain.predict(request, None)
        if in_line(calls, since):
            assert calls.made[since:] == [(True, len(request))] * (1 + steps)
        assert answer == await composed.predict(request, None)


async def test_single_graph_fast_lane_answers_exactly_as_the_worker(
    load: Load, manifests: dict[str, pb.ModelInfo]
) -> None:
    names = kind_models(manifests, *GRAPH_KINDS)
    assert "addition" in names
    for name in names:
        fast, fast_calls = load(name)
        worker, worker_calls = load(name, inline_max_items=0)
        inputs = encoded(manifests[name], fresh_inputs(manifests[name], 300, seed=12))
        lanes: list[bool] = []
        for request in requests(inputs, INLINE):
            await quiet(fast)
            since = len(fast_calls.made)
            answer = await fast.predict(request, None)
            lanes.append(in_line(fast_calls, since))
            assert answer == await worker.predict(request, None)
        assert lanes == probe_pattern(len(lanes)), name
        assert worker_calls.on_loop == [] and len(worker_calls.on_worker) == len(lanes), name


async def test_session_steps_in_the_fast_lane_match_the_worker(
    load: Load, manifests: dict[str, pb.ModelInfo]
) -> None:
    name = kind_models(manifests, pb.SERVING_KIND_STATEFUL_STEP)[0]
    fast, fast_calls = load(name)
    worker, worker_calls = load(name, inline_max_items=0)
    assert isinstance(fast, StepEngine) and isinstance(worker, StepEngine)
    spec = manifests[name].input
    rng = np.random.default_rng(13)
    for _ in range(20):  # 20 sessions of 15 steps
        h = c = fast.zeros()
        for symbol in rng.integers(spec.min_value, spec.max_value + 1, size=15).tolist():
            await quiet(fast)
            a = await fast.step(StepInput(symbol, h, c))
            b = await worker.step(StepInput(symbol, h, c))
            assert a.symbol == b.symbol
            for x, y in ((a.probabilities, b.probabilities), (a.h, b.h), (a.c, b.c)):
                assert np.array_equal(x, y)
            h, c = a.h, a.c
    assert [inline for inline, _ in fast_calls.made] == probe_pattern(300)
    assert worker_calls.on_worker == [1] * 300 and worker_calls.on_loop == []


# ------------------------------------------------------------ when the fast lane applies


async def test_only_requests_up_to_inline_max_items_take_the_fast_lane(
    load: Load, manifests: dict[str, pb.ModelInfo]
) -> None:
    for model in (seq2seq_name(manifests), "addition"):
        engine, calls = load(model)
        await engine.predict(fresh(manifests, model, INLINE), None)
        assert calls.made == [(True, INLINE)] * graph_calls_per_request(engine, True)
        calls.made.clear()
        await engine.predict(fresh(manifests, model, INLINE + 1), None)
        assert calls.on_loop == []
        assert calls.on_worker == [INLINE + 1] * graph_calls_per_request(engine, False)


async def test_requests_back_to_back_go_to_the_worker_and_batch(
    load: Load, manifests: dict[str, pb.ModelInfo], models_dir: Path
) -> None:
    """Under load every request would find the worker idle if each ran alone on the loop;
    only the first of a burst takes the fast lane, the rest batch on the worker."""
    for model in (seq2seq_name(manifests), "addition"):
        engine, calls = load(model)
        inputs = fresh_inputs(manifests[model], 8, seed=17)
        items = encoded(manifests[model], inputs)
        calls.gate.clear()
        tasks = [asyncio.create_task(engine.predict([item], None)) for item in items]
        await wait_for(calls.entered)  # the first ran in-line; the worker holds the rest
        calls.gate.set()
        got = [(await task)[0] for task in tasks]
        assert calls.on_loop == [1] * graph_calls_per_request(engine, True), model
        # the seven share every call
        assert calls.on_worker == [7] * graph_calls_per_request(engine, False), model
        if isinstance(engine, Seq2SeqEngine):
            want = expected(newest(models_dir, model), inputs)
            assert [list(r.symbols) for r in got] == [w["ints"] for w in want]


async def test_after_finding_company_small_requests_go_through_the_worker_for_a_while(
    load: Load, manifests: dict[str, pb.ModelInfo]
) -> None:
    """A request that finds the worker busy means others are in flight: the next `HOLD`
    small requests go through the worker too (under load they find company again and keep
    batching); then, one caller at a time, the fast lane takes them again."""
    for model in (seq2seq_name(manifests), "addition"):
        engine, calls = load(model)
        items = fresh(manifests, model, INLINE + 1)
        calls.gate.clear()
        big = asyncio.create_task(engine.predict(items, None))  # too big: through the worker
        await wait_for(calls.entered)
        small = asyncio.create_task(engine.predict(items[:1], None))  # finds the worker busy
        await asyncio.sleep(0.05)
        calls.gate.set()
        await big
        await small
        assert calls.on_loop == [], model
        lanes: list[bool] = []
        for item in fresh(manifests, model, HOLD + 1):
            await quiet(engine)
            since = len(calls.made)
            await engine.predict([item], None)
            lanes.append(in_line(calls, since))
        assert lanes == [False] * HOLD + [True], model


async def test_zero_inline_max_items_turns_the_fast_lane_off(
    load: Load, manifests: dict[str, pb.ModelInfo]
) -> None:
    for model in (seq2seq_name(manifests), "addition"):
        engine, calls = load(model, inline_max_items=0)
        await engine.predict(fresh(manifests, model, 1), None)
        assert calls.on_loop == [] and calls.on_worker


async def test_a_small_request_joins_the_sequences_decoding(
    load: Load, manifests: dict[str, pb.ModelInfo], models_dir: Path
) -> None:
    name = seq2seq_name(manifests)
    steps = manifests[name].decode.steps
    engine, calls = load(name)
    inputs = fresh_inputs(manifests[name], INLINE + 2, seed=16)
    items = encoded(manifests[name], inputs)
    calls.gate.clear()
    big = asyncio.create_task(engine.predict(items[: INLINE + 1], None))  # through the worker
    await wait_for(calls.entered)  # its encoder call is held
    small = asyncio.create_task(engine.predict(items[INLINE + 1 :], None))  # the worker is busy
    await asyncio.sleep(0.05)
    assert not small.done()
    calls.gate.set()
    got = await big + await small
    n = INLINE + 1
    # encoder [n], steps 1..: n rows; the newcomer is encoded and joins at step 2
    assert calls.on_loop == []
    assert calls.on_worker == [n, n, 1] + [n + 1] * (steps - 1) + [1]
    want = expected(newest(models_dir, name), inputs)
    assert [list(r.symbols) for r in got] == [w["ints"] for w in want]


async def test_a_small_request_queues_while_the_batcher_works(
    load: Load, manifests: dict[str, pb.ModelInfo]
) -> None:
    engine, calls = load("addition")
    calls.gate.clear()
    big = asyncio.create_task(engine.predict(fresh(manifests, "addition", INLINE + 1), None))
    await wait_for(calls.entered)  # the worker is running its batch
    small = [
        asyncio.create_task(engine.predict(fresh(manifests, "addition", k), None)) for k in (1, 2)
    ]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in small)
    calls.gate.set()
    answers = [await big] + [await task for task in small]
    assert [len(a) for a in answers] == [INLINE + 1, 1, 2]
    assert calls.made == [(False, INLINE + 1), (False, 3)]  # the two small ones share a call


async def test_a_small_request_joins_a_batch_still_collecting(
    load: Load, manifests: dict[str, pb.ModelInfo]
) -> None:
    engine, calls = load("addition", max_batch_delay_us=300_000)
    big = asyncio.create_task(engine.predict(fresh(manifests, "addition", INLINE + 1), None))
    await asyncio.sleep(0.05)  # taken by the worker, which waits for more
    small = asyncio.create_task(engine.predict(fresh(manifests, "addition", 1), None))
    assert [len(a) for a in (await big, await small)] == [INLINE + 1, 1]
    assert calls.made == [(False, INLINE + 2)]


async def test_fast_lane_calls_are_counted_in_the_model_metrics(
    load: Load, manifests: dict[str, pb.ModelInfo]
) -> None:
    for model in (seq2seq_name(manifests), "addition"):
        engine, calls = load(model)
        graph_calls = graph_calls_per_request(engine, True)
        totals = TOTALS.of(model)
        before = (totals.queue_count, totals.compute_count)
        await engine.predict(fresh(manifests, model, 2), None)
        assert calls.on_loop == [2] * graph_calls
        queued = 2 if isinstance(engine, Seq2SeqEngine) else 1  # sequences, or requests
        assert (totals.queue_count, totals.compute_count) == (
            before[0] + queued,
            before[1] + graph_calls,
        )


# ------------------------------------------------------------ deadlines and failures


async def test_a_past_deadline_is_refused_without_running_the_model(
    load: Load, manifests: dict[str, pb.ModelInfo]
) -> None:
    for model in (seq2seq_name(manifests), "addition"):
        engine, calls = load(model)
        item = fresh(manifests, model, 1)
        with pytest.raises(DeadlineExceeded):
            await engine.predict(item, time.monotonic() - 1)
        assert calls.made == []
        assert len(await engine.predict(item, time.monotonic() + 10)) == 1


async def test_an_onnxruntime_failure_is_the_same_error_in_both_lanes(
    load: Load, manifests: dict[str, pb.ModelInfo], models_dir: Path, tmp_path: Path
) -> None:
    name = seq2seq_name(manifests)
    # both lanes run the encoder of a model without the greedy graph
    plain = without_greedy(newest(models_dir, name), tmp_path / "plain")
    cases = [(name, plain, "encoder"), ("addition", newest(models_dir, "addition"), "model")]
    for model, source, graph in cases:
        spec = manifests[model].input
        poison = int(spec.max_value)  # warm-up's item is all min_value: it passes
        folder = poisoned_copy(source, tmp_path / "repo", graph, poison)
        good = tuple(int(spec.min_value) for _ in range(spec.length))
        bad = (poison, *good[1:])
        errors = []
        for inline in (INLINE, 0):
            engine, calls = load(model, folder, record=graph, inline_max_items=inline)
            with pytest.raises(Exception) as raised:
                await engine.predict([bad], None)
            assert (calls.on_loop if inline else calls.on_worker) == [1]
            errors.append(raised.value)
            assert len(await engine.predict([good], None)) == 1  # it keeps serving
        fast, worker = errors
        assert type(fast).__module__.startswith("onnxruntime")
        assert (type(fast), str(fast)) == (type(worker), str(worker))


def poisoned_copy(source: Path, repo: Path, graph: str, poison: int) -> Path:
    """A copy of a model version whose `graph` (file stem) fails inside onnxruntime for any
    batch holding an item whose first symbol is `poison`; every other batch answers as the
    original does.

    The graph's first output `y` is checked by reshaping it (flattened to `[rows, D]`) to
    `[rows, D + k]`, k being the number of such items: Reshape fails unless k is 0.
    """
    info = read_manifest(source)
    folder = repo / info.name / source.name
    shutil.copytree(source, folder)
    path = folder / f"{graph}.onnx"
    model = onnx.load(path)
    body = model.graph
    x, y = body.input[0].name, body.output[0].name
    raw = f"{y}_unchecked"
    for node in body.node:
        node.input[:] = [raw if name == y else name for name in node.input]
        node.output[:] = [raw if name == y else name for name in node.output]

    def const(name: str, values: list[int]) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)

    body.initializer.extend(
        [
            const("p_flat", [0, -1]),
            const("p_starts", [0, poison]),
            const("p_ends", [1, poison + 1]),
            const("p_axes", [1, 2]),
            const("p_zero", [0]),
        ]
    )
    body.node.extend(
        [
            helper.make_node("Reshape", [raw, "p_flat"], ["p_2d"]),
            helper.make_node("Slice", [x, "p_starts", "p_ends", "p_axes"], ["p_hit"]),
            helper.make_node("ReduceSum", ["p_hit"], ["p_sum"], keepdims=0),
            helper.make_node("Cast", ["p_sum"], ["p_count"], to=TensorProto.INT64),
            helper.make_node("Unsqueeze", ["p_count", "p_zero"], ["p_count_1"]),
            helper.make_node("Concat", ["p_zero", "p_count_1"], ["p_grow"], axis=0),
            helper.make_node("Shape", ["p_2d"], ["p_shape_2d"]),
            helper.make_node("Add", ["p_shape_2d", "p_grow"], ["p_checked_shape"]),
            helper.make_node("Reshape", ["p_2d", "p_checked_shape"], ["p_checked"]),
            helper.make_node("Shape", [raw], ["p_shape"]),
            helper.make_node("Reshape", ["p_checked", "p_shape"], [y]),
        ]
    )
    onnx.checker.check_model(model)
    onnx.save(model, path)
    data = path.read_bytes()
    entry = next(g for g in info.graphs if g.file == path.name)
    entry.sha256, entry.size_bytes = hashlib.sha256(data).hexdigest(), len(data)
    write_manifest(folder, info)
    return folder
