"""The few settings an engine and its workers run with, taken from the server's settings once."""

from __future__ import annotations

from dataclasses import dataclass, fields

from seqserve.server.settings import DecodeState, Settings, WorkerPolicy


@dataclass(frozen=True, slots=True)
class Capacity:
    """Batch and queue bounds, the fast lane's size, and how worker threads run (each field
    is the setting of the same name)."""

    max_batch_size: int
    max_batch_delay_us: int
    max_queue: int
    inline_max_items: int
    max_active_sequences: int
    worker_policy: WorkerPolicy
    decode_state: DecodeState

    @classmethod
    def of(cls, settings: Settings) -> Capacity:
        """The settings of the same names."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})
