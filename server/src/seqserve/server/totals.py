"""Plain cumulative counters per model (queue and compute counts and nanoseconds).

The worker hooks in `metrics` add to them beside the Prometheus histograms; the KServe
front-end reads them for ModelStatistics (`api/kserve/stats.py`), which counts every
request of both protocols.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(slots=True)
class ModelTotals:
    """Cumulative counts and nanoseconds of one model's queue and compute phases.

    Written by the model's one worker thread; read anywhere (plain ints). `queue_*`
    counts requests (seq2seq: sequences) taken from the queue, `compute_*` batched
    onnxruntime calls (seq2seq: encoder and decoder-step calls).
    """

    queue_count: int = 0
    queue_ns: int = 0
    compute_count: int = 0
    compute_ns: int = 0


_totals: dict[str, ModelTotals] = {}
_totals_lock = threading.Lock()


def model_totals(model: str) -> ModelTotals:
    """The live totals of a model (zeros until it has run); for KServe ModelStatistics."""
    totals = _totals.get(model)
    if totals is None:
        with _totals_lock:
            totals = _totals.setdefault(model, ModelTotals())
    return totals
