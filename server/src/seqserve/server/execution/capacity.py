"""The few settings an engine and its workers run with, taken from the server's settings once."""

from __future__ import annotations

from dataclasses import dataclass

from seqserve.server.settings import DecodeState, Settings, WorkerPolicy


@dataclass(frozen=True, slots=True)
class Capacity:
    """Batch and queue bounds, the fast lane's size, and how worker threads run."""

    max_batch_size: int
    max_batch_delay_us: int
    max_queue: int
    inline_max_items: int
    max_active_sequences: int
    worker_policy: WorkerPolicy
    decode_state: DecodeState

    @classmethod
    def of(cls, settings: Settings) -> Capacity:
        return cls(
            max_batch_size=settings.max_batch_size,
            max_batch_delay_us=settings.max_batch_delay_us,
            max_queue=settings.max_queue,
            inline_max_items=settings.inline_max_items,
            max_active_sequences=settings.max_active_sequences,
            worker_policy=settings.worker_policy,
            decode_state=settings.decode_state,
        )
