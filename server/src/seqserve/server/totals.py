"""Plain cumulative counters per model (queue and compute counts and nanoseconds).

The core owns one `Totals`; each engine's worker hooks (`metrics`) add to its model's
`ModelTotals` beside the Prometheus histograms, and the KServe front-end reads them for
ModelStatistics (`api/kserve/stats.py`), which counts every request of both protocols.
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


class Totals:
    """Every model's totals, by name (all versions of a model add to the same)."""

    def __init__(self) -> None:
        self._models: dict[str, ModelTotals] = {}
        self._lock = threading.Lock()

    def of(self, model: str) -> ModelTotals:
        """The live totals of a model (zeros until it has run)."""
        totals = self._models.get(model)
        if totals is None:
            with self._lock:
                totals = self._models.setdefault(model, ModelTotals())
        return totals
