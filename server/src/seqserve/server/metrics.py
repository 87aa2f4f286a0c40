"""Prometheus metrics: every metric object of the server, and the small hooks that feed them.

All names start with `seqserve_` (the table is in docs/observability.md). They live in
prometheus_client's default registry, so the process collectors (`process_*`,
`python_*`) come with them, and `metrics_endpoint.serve()` exposes them at `/metrics`.
That registry is process-wide, so the metric objects (and the served model names that
bound the `model` label) are module-level here; what belongs to one server is held by the
objects that use it (`RequestMetrics` by the interceptor, `totals.Totals` by the core).

Hot-path rules: labelled children are looked up once (in the hooks' constructors, or
cached by label tuple in `RequestMetrics`); gauges that mirror a length (queue depth,
active sequences, open sessions) are read at scrape time with `set_function`; worker
threads observe once per batch or per request, never per symbol.

Feeds:
- `api.observe` (the server interceptor): requests and their duration, per call;
- `BatchHooks` (dynamic batcher) and `DecodeHooks` (seq2seq decode worker): batch sizes,
  decoder-step occupancy, queue depth, active sequences, phase times;
- `watch_sessions`, `session_opened`, `sessions_evicted` (session store);
- `model_loaded` (loader), `watch_models` and `set_build_info` (server start).

The worker hooks also add to the plain counters of `totals`, which the KServe
ModelStatistics read.
"""

from __future__ import annotations

import platform
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from seqserve.server.totals import ModelTotals

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `*_created` series

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
PHASE_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
UNKNOWN_MODEL = "_unknown"  # a requested name the server does not serve (bounded labels)

REQUESTS = Counter(
    "seqserve_requests",
    "calls answered; code: the gRPC status name, or the HTTP status on protocol http",
    ["model", "method", "code", "protocol"],
)
REQUEST_SECONDS = Histogram(
    "seqserve_request_duration_seconds",
    "call duration, from the call reaching the server to its status",
    ["model", "method", "code", "protocol"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "seqserve_queue_depth", "items waiting for a batch or a decoder slot", ["model"]
)
BATCH_SIZE = Histogram(
    "seqserve_batch_size",
    "items per batched onnxruntime call (dynamic batcher; seq2seq encoder admissions)",
    ["model"],
    buckets=SIZE_BUCKETS,
)
DECODE_STEP_SEQUENCES = Histogram(
    "seqserve_decode_step_sequences",
    "sequences in one batched decoder step (continuous-batching occupancy)",
    ["model"],
    buckets=SIZE_BUCKETS,
)
ACTIVE_SEQUENCES = Gauge("seqserve_active_sequences", "seq2seq sequences decoding now", ["model"])
PHASE_SECONDS = Histogram(
    "seqserve_phase_duration_seconds",
    "time per phase: queue (submitted to taken into a batch or decoder slot), compute "
    "(one batched call), encoder (one batched encoder call), decoder_step (one batched step), "
    "greedy (a whole greedy decode in one call)",
    ["model", "phase"],
    buckets=PHASE_BUCKETS,
)
SESSIONS_OPEN = Gauge("seqserve_sessions_open", "stateful sessions open now")
SESSIONS_OPENED = Counter("seqserve_sessions_opened", "stateful sessions opened or resumed")
SESSIONS_EVICTED = Counter("seqserve_sessions_evicted", "stateful sessions evicted after idling")
MODEL_LOAD_SECONDS = Gauge(
    "seqserve_model_load_seconds",
    "time the last load of a model version took (checks, onnxruntime sessions, warm-up)",
    ["model", "version"],
)
BUILD = Info("seqserve_build", "seqserve server version and runtime versions")

_known: set[str] = set()  # model names served: the only values of the `model` label


def known_model(name: str) -> str:
    """`name` as a label value: itself when served, "" for none, else `UNKNOWN_MODEL`."""
    if not name or name in _known:
        return name
    return UNKNOWN_MODEL


# ------------------------------------------------------------ live gauges


class _LiveSum:
    """A gauge child read at scrape time: the sum of one reader over every live engine of a
    model (each loaded version has its own queue); engines drop out once collected."""

    def __init__(self, gauge: Gauge, model: str, reader: str) -> None:
        self._owners: weakref.WeakSet[Any] = weakref.WeakSet()
        self._reader = reader
        self._lock = threading.Lock()
        gauge.labels(model).set_function(self._read)

    def add(self, owner: object) -> None:
        with self._lock:
            self._owners.add(owner)

    def _read(self) -> float:
        with self._lock:
            owners = list(self._owners)
        return float(sum(getattr(owner, self._reader)() for owner in owners))


_live: dict[tuple[int, str], _LiveSum] = {}
_live_lock = threading.Lock()


def _watch(gauge: Gauge, model: str, owner: object, reader: str) -> None:
    """Add `owner.<reader>()` to the gauge's value for `model`."""
    with _live_lock:
        live = _live.get((id(gauge), model))
        if live is None:
            live = _live[(id(gauge), model)] = _LiveSum(gauge, model, reader)
    live.add(owner)


# ------------------------------------------------------------ worker-thread hooks


class BatchHooks:
    """A dynamic batcher's batch sizes, queue wait per request and compute time per call."""

    __slots__ = ("__weakref__", "_batch", "_compute", "_queue", "_totals", "queue_depth")

    def __init__(self, model: str, pending: Callable[[], float], totals: ModelTotals) -> None:
        _known.add(model)
        self.queue_depth = pending
        _watch(QUEUE_DEPTH, model, self, "queue_depth")
        self._batch = BATCH_SIZE.labels(model)
        self._queue = PHASE_SECONDS.labels(model, "queue")
        self._compute = PHASE_SECONDS.labels(model, "compute")
        self._totals = totals

    def ran(self, items: int, queued: Iterable[float], started: float, ended: float) -> None:
        """One batched call of `items` items between these perf_counter times, for the
        requests submitted at the `queued` times."""
        self._batch.observe(items)
        totals = self._totals
        for at in queued:
            wait = started - at
            self._queue.observe(wait)
            totals.queue_count += 1
            totals.queue_ns += int(wait * 1e9)
        self._compute.observe(ended - started)
        totals.compute_count += 1
        totals.compute_ns += int((ended - started) * 1e9)


class DecodeHooks:
    """The seq2seq decode worker's queue waits, encoder and decoder-step calls."""

    __slots__ = (
        "__weakref__",
        "_batch",
        "_decoder",
        "_encoder",
        "_greedy",
        "_occupancy",
        "_queue",
        "_totals",
        "active",
        "queue_depth",
    )

    def __init__(
        self,
        model: str,
        waiting: Callable[[], float],
        active: Callable[[], float],
        totals: ModelTotals,
    ) -> None:
        _known.add(model)
        self.queue_depth = waiting
        self.active = active
        _watch(QUEUE_DEPTH, model, self, "queue_depth")
        _watch(ACTIVE_SEQUENCES, model, self, "active")
        self._batch = BATCH_SIZE.labels(model)
        self._occupancy = DECODE_STEP_SEQUENCES.labels(model)
        self._queue = PHASE_SECONDS.labels(model, "queue")
        self._encoder = PHASE_SECONDS.labels(model, "encoder")
        self._decoder = PHASE_SECONDS.labels(model, "decoder_step")
        self._greedy = PHASE_SECONDS.labels(model, "greedy")
        self._totals = totals

    def encoded(self, queued: Iterable[float], started: float, ended: float) -> None:
        """One encoder call for the sequences admitted, which were submitted at `queued`."""
        totals = self._totals
        n = 0
        for at in queued:
            wait = started - at
            self._queue.observe(wait)
            totals.queue_count += 1
            totals.queue_ns += int(wait * 1e9)
            n += 1
        self._batch.observe(n)
        self._encoder.observe(ended - started)
        totals.compute_count += 1
        totals.compute_ns += int((ended - started) * 1e9)

    def decoded(self, sequences: int, started: float, ended: float) -> None:
        """One call that decoded `sequences` whole, at once (no queue wait)."""
        totals = self._totals
        for _ in range(sequences):
            self._queue.observe(0.0)
        totals.queue_count += sequences
        self._batch.observe(sequences)
        self._greedy.observe(ended - started)
        totals.compute_count += 1
        totals.compute_ns += int((ended - started) * 1e9)

    def stepped(self, sequences: int, started: float, ended: float) -> None:
        """One decoder step over `sequences` active sequences."""
        self._occupancy.observe(sequences)
        self._decoder.observe(ended - started)
        self._totals.compute_count += 1
        self._totals.compute_ns += int((ended - started) * 1e9)


def watch_sessions(count: Callable[[], float]) -> None:
    """Read the number of open sessions at scrape time."""
    SESSIONS_OPEN.set_function(count)


def session_opened() -> None:
    SESSIONS_OPENED.inc()


def sessions_evicted(count: int) -> None:
    SESSIONS_EVICTED.inc(count)


# ------------------------------------------------------------ per-call metrics (interceptor)


class RequestMetrics:
    """Counter and histogram children per (model, method, code, protocol), looked up once
    each. `method` is the gRPC method, or over HTTP the gRPC method the route stands for."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, str, str], tuple[Counter, Histogram]] = {}

    def observe(
        self, model: str, method: str, code: str, seconds: float, protocol: str = "grpc"
    ) -> None:
        key = (known_model(model), method, code, protocol)
        children = self._children.get(key)
        if children is None:
            children = (REQUESTS.labels(*key), REQUEST_SECONDS.labels(*key))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


# ------------------------------------------------------------ models, build


@dataclass(frozen=True, slots=True)
class VersionState:
    model: str
    version: int
    ready: bool


class _ModelCollector(Collector):
    """`seqserve_model_ready`, read from the repository at scrape time (follows reloads)."""

    def __init__(self) -> None:
        self.source: Callable[[], Iterable[VersionState]] | None = None

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "seqserve_model_ready",
            "1 when a model version is loaded and serving, 0 when it failed its checks",
            labels=["model", "version"],
        )
        if self.source is not None:
            try:
                states = list(self.source())
            except RuntimeError:  # the repository changed while read (reload): skip once
                states = []
            for state in states:
                family.add_metric([state.model, str(state.version)], 1.0 if state.ready else 0.0)
        yield family

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("seqserve_model_ready", "", labels=["model", "version"])


_models = _ModelCollector()
REGISTRY.register(_models)


def watch_models(source: Callable[[], Iterable[VersionState]]) -> None:
    """Report readiness from `source` at each scrape (the last caller wins)."""
    _models.source = source


def model_loaded(model: str, version: int, seconds: float) -> None:
    MODEL_LOAD_SECONDS.labels(model, str(version)).set(seconds)


def set_build_info(version: str, **extra: str) -> None:
    import grpc
    import onnxruntime

    BUILD.info(
        {
            "version": version,
            "python": platform.python_version(),
            "onnxruntime": str(onnxruntime.__version__),
            "grpc": str(grpc.__version__),
            **extra,
        }
    )
