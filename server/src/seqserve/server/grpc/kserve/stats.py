"""Per model version request counts and times, for ModelStatistics.

Triton's fields as seqserve fills them: `success`/`fail` count requests and their total
time in nanoseconds, `inference_count` the items inferred (a batch of n counts n),
`execution_count` the requests executed, `last_inference` the time of the last one in
milliseconds since the epoch. Queue and compute times are left to the server's metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from seqserve.server.grpc.kserve.messages import pb as kpb


@dataclass(slots=True)
class _Counters:
    success: int = 0
    success_ns: int = 0
    fail: int = 0
    fail_ns: int = 0
    items: int = 0
    last_ms: int = 0


class Statistics:
    def __init__(self) -> None:
        self._models: dict[tuple[str, int], _Counters] = {}

    def record(self, name: str, version: int, items: int, ok: bool, elapsed_ns: int) -> None:
        counters = self._models.setdefault((name, version), _Counters())
        if ok:
            counters.success += 1
            counters.success_ns += elapsed_ns
            counters.items += items
        else:
            counters.fail += 1
            counters.fail_ns += elapsed_ns
        counters.last_ms = time.time_ns() // 1_000_000

    def model(self, name: str, version: int) -> kpb.ModelStatistics:
        c = self._models.get((name, version), _Counters())
        stats = kpb.ModelStatistics(
            name=name,
            version=str(version),
            last_inference=c.last_ms,
            inference_count=c.items,
            execution_count=c.success,
        )
        stats.inference_stats.success.count = c.success
        stats.inference_stats.success.ns = c.success_ns
        stats.inference_stats.fail.count = c.fail
        stats.inference_stats.fail.ns = c.fail_ns
        return stats
