"""models/REPORT.md and models/training.png from the newest manifests and the training cache."""

from __future__ import annotations

from pathlib import Path


def write(models: Path, cache: Path) -> None:
    pass
