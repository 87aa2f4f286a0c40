"""The command line: model selection, idempotent re-runs and atomic export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from seqserve.contract.manifest import read_manifest, write_manifest
from seqserve.trainer import catalog, repository
from seqserve.trainer.__main__ import DEFAULT_SEED
from seqserve.trainer.fingerprint import fingerprint

from .conftest import ROOT, Run

FAST = "sum_mlp"
Copy = Callable[[Path, str, Path], Path]


def test_unknown_model_lists_the_valid_names(run_trainer: Run) -> None:
    result, _ = run_trainer("train", "--only", "sum_mlp,nope")
    assert result.returncode == 2
    assert "unknown model nope" in result.stderr
    for model in catalog.MODELS:
        assert model.name in result.stderr


def test_select_keeps_the_order_given() -> None:
    assert [m.name for m in catalog.select("recall,sum_mlp")] == ["recall", "sum_mlp"]
    assert len(catalog.select(None)) == 8
    with pytest.raises(ValueError, match="valid names: echo_vanilla"):
        catalog.select("echo")


def test_fingerprint_depends_on_seed_and_model() -> None:
    model = catalog.BY_NAME[FAST]
    assert fingerprint(model, 1) == fingerprint(model, 1)
    assert fingerprint(model, 1) != fingerprint(model, 2)
    assert fingerprint(model, 1) != fingerprint(catalog.BY_NAME["sum_regression"], 1)


def test_rerun_of_train_export_does_nothing(models_dir: Path, run_trainer: Run) -> None:
    """`make train export` with every model up to date takes seconds and writes no version."""
    stale = [
        m.name
        for m in catalog.MODELS
        if read_manifest(
            models_dir / m.name / str(repository.versions(models_dir, m.name)[-1])
        ).training.fingerprint
        != fingerprint(m, DEFAULT_SEED)
    ]
    assert not stale, f"models/ is out of date for {stale}: run `make train export`"
    before = {m.name: repository.versions(models_dir, m.name) for m in catalog.MODELS}
    for command in ("train", "export"):
        result, seconds = run_trainer(command, "--models", str(models_dir))
        assert result.returncode == 0, result.stderr
        assert seconds < 10, f"{command} took {seconds:.1f}s"
        assert result.stdout.count("up to date") == 8
    after = {m.name: repository.versions(models_dir, m.name) for m in catalog.MODELS}
    assert after == before


def test_changed_fingerprint_exports_the_next_version(
    models_dir: Path, tmp_path: Path, run_trainer: Run, copy_latest: Copy
) -> None:
    first = copy_latest(models_dir, FAST, tmp_path)
    result, _ = run_trainer("export", "--only", FAST, "--models", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert repository.versions(tmp_path, FAST) == [1], "unchanged model must not be re-exported"

    info = read_manifest(first)
    info.training.fingerprint = "0000000000000000"  # as if the training code had changed
    write_manifest(first, info)
    result, _ = run_trainer("export", "--only", FAST, "--models", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert repository.versions(tmp_path, FAST) == [1, 2]
    second = read_manifest(tmp_path / FAST / "2")
    assert second.version == 2
    assert second.training.fingerprint == fingerprint(catalog.BY_NAME[FAST], DEFAULT_SEED)
    assert (tmp_path / "REPORT.md").is_file() and (tmp_path / "training.png").is_file()


def test_killed_export_leaves_previous_version_intact(
    models_dir: Path,
    tmp_path: Path,
    run_trainer: Run,
    copy_latest: Copy,
    trainer_command: list[str],
) -> None:
    first = copy_latest(models_dir, FAST, tmp_path)
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    command = [*trainer_command, "export", "--only", FAST, "--force", "--models", str(tmp_path)]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    staging: list[Path] = []
    deadline = time.monotonic() + 120
    try:
        while not staging and process.poll() is None and time.monotonic() < deadline:
            staging = list((tmp_path / FAST).glob(".tmp-*"))
            time.sleep(0.002)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert staging, "the export finished before it could be interrupted"
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before
    assert repository.versions(tmp_path, FAST) == [1], "a half-written version is visible"
    for leftover in (tmp_path / FAST).iterdir():
        assert leftover.name == "1" or not leftover.name.isdigit()

    # The next run cleans up after the killed one and publishes a complete version 2.
    result, _ = run_trainer("export", "--only", FAST, "--force", "--models", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert repository.versions(tmp_path, FAST) == [1, 2]
    assert not list((tmp_path / FAST).glob(".tmp-*"))
    assert read_manifest(tmp_path / FAST / "2").skill.value <= 0.5
    assert json.loads((tmp_path / FAST / "2" / "model.json").read_text())["version"] == "2"
