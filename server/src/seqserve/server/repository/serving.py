"""A model's serving settings: the server's flags, overridden by the manifest's `serving`."""

from __future__ import annotations

from seqserve.server.repository.checks import LoadError
from seqserve.server.settings import Settings
from seqserve.v1 import seqserve_pb2 as pb

# manifest `serving` field -> smallest allowed value (the flag of the same name has the same)
FIELDS = {
    "max_batch_size": 1,
    "max_batch_delay_us": 0,
    "max_active_sequences": 1,
    "intra_op_threads": 0,
    "inter_op_threads": 0,
    "warmup_runs": 0,
}


def model_settings(settings: Settings, info: pb.ModelInfo) -> Settings:
    """`settings` with each field the manifest's `serving` sets replaced (manifest > flag)."""
    update: dict[str, int] = {}
    for field, least in FIELDS.items():
        if info.serving.HasField(field):
            value = int(getattr(info.serving, field))
            if value < least:
                raise LoadError(f"serving.{field} is {value}; it must be at least {least}")
            update[field] = value
    return settings.model_copy(update=update) if update else settings
