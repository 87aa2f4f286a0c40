"""Fixtures for the trainer tests: the models that `make train export` produced in ./models.

The tests read those exported graphs through onnxruntime; they never refit all eight models.
Tests that export run `python -m seqserve.trainer` in a subprocess against a temporary
repository, with `--only` a fast model and the shared training cache under build/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from seqserve.trainer import catalog, repository

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
CACHE = ROOT / "build" / "trainer"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    missing = [m.name for m in catalog.MODELS if repository.latest(MODELS, m.name) is None]
    if missing:
        pytest.fail(
            f"no exported version of {', '.join(missing)} in {MODELS}: run `make train export`"
        )
    return MODELS


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return CACHE


Run = Callable[..., tuple[subprocess.CompletedProcess[str], float]]


@pytest.fixture(scope="session")
def trainer_command() -> list[str]:
    """The trainer CLI as a command line, sharing the training cache of `make train`."""
    return [sys.executable, "-m", "seqserve.trainer", "--cache", str(CACHE)]


@pytest.fixture(scope="session")
def run_trainer() -> Run:
    return _run_trainer


@pytest.fixture(scope="session")
def copy_latest() -> Callable[[Path, str, Path], Path]:
    return _copy_latest


def _run_trainer(
    *args: str, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the trainer CLI from the repository root; return the result and its wall time."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "seqserve.trainer", *args, "--cache", str(CACHE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return result, time.perf_counter() - start


def _copy_latest(models: Path, name: str, target: Path) -> Path:
    """Copy the newest exported version of ``name`` into ``target/<name>/1``."""
    found = repository.latest(models, name)
    assert found is not None
    version, _ = found
    destination = target / name / "1"
    shutil.copytree(models / name / str(version), destination)
    return destination
