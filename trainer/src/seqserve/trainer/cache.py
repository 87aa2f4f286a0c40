"""The training cache under ``build/``: weights and a record per model and fingerprint.

``<cache>/<name>/<fingerprint>/{model.weights.h5, record.json}``. This module needs no
TensorFlow; ``training`` writes and loads the weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from seqserve.trainer.catalog import Model

WEIGHTS = "model.weights.h5"
RECORD = "record.json"
TIMINGS = "timings.json"


@dataclass
class Record:
    """What a fit did: kept beside the weights, copied into the manifest and the report."""

    fingerprint: str
    seed: int
    parameters: int
    seconds: float
    epochs: int
    examples: int  # training examples per epoch
    batch_size: int
    curve: list[tuple[int, float]] = field(default_factory=list)  # (examples seen, loss)
    final: dict[str, float] = field(default_factory=dict)  # last epoch's training figures


def folder(cache: Path, model: Model, fingerprint: str) -> Path:
    return cache / model.name / fingerprint


def is_cached(cache: Path, model: Model, fingerprint: str) -> bool:
    path = folder(cache, model, fingerprint)
    return (path / WEIGHTS).is_file() and (path / RECORD).is_file()


def read_record(cache: Path, model: Model, fingerprint: str) -> Record | None:
    path = folder(cache, model, fingerprint) / RECORD
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["curve"] = [tuple(p) for p in raw["curve"]]
    return Record(**raw)


def write_record(path: Path, record: Record) -> None:
    path.write_text(json.dumps(asdict(record)), encoding="utf-8")


def record_timing(
    cache: Path, repository: Path, command: str, seconds: float, models: list[str]
) -> None:
    """Remember how long the last ``train`` / ``export`` for a repository took, for the report."""
    path = cache / TIMINGS
    everything = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    timings = everything.setdefault(str(repository.resolve()), {})
    timings[command] = {
        "seconds": round(seconds, 1),
        "models": models,
        "load": round(os.getloadavg()[0], 1),  # the machine may be shared: context for seconds
        "cpus": os.cpu_count(),
    }
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(everything, indent=2), encoding="utf-8")


def read_timings(cache: Path, repository: Path) -> dict[str, dict]:
    path = cache / TIMINGS
    everything = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    timings: dict[str, dict] = everything.get(str(repository.resolve()), {})
    return timings
