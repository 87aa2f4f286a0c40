"""Reliability fixtures: private model repositories, servers per module, RSS, run lengths.

Run lengths come from the environment so `make test` stays short and `make fuzz` /
`make soak` run the full counts: `SEQSERVE_FUZZ_EXAMPLES` (generated requests per fuzz
test), `SEQSERVE_SOAK_SECONDS` (soak duration).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seqserve.contract.manifest import read_manifest, write_manifest

if TYPE_CHECKING:
    from conftest import RunningServer

FUZZ_EXAMPLES = int(os.environ.get("SEQSERVE_FUZZ_EXAMPLES", "1500"))
SOAK_SECONDS = float(os.environ.get("SEQSERVE_SOAK_SECONDS", "10"))


def newest(models: Path, name: str) -> Path:
    versions = [p for p in (models / name).iterdir() if p.name.isdigit()]
    return max(versions, key=lambda p: int(p.name))


def place_version(source: Path, model_dir: Path, version: int) -> Path:
    """Copy a version folder as `version` (manifest rewritten), staged then renamed in."""
    stage = model_dir / f".stage-{version}"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(source, stage)
    info = read_manifest(stage)
    info.version = version
    write_manifest(stage, info)
    target = model_dir / str(version)
    stage.rename(target)
    return target


def private_repo(models: Path, root: Path, names: list[str] | None = None) -> Path:
    """A repository holding the newest version of each model (all by default) as version 1."""
    root.mkdir(parents=True, exist_ok=True)
    for model in sorted(p for p in models.iterdir() if p.is_dir()):
        if names is not None and model.name not in names:
            continue
        if not any(model.glob("*/model.json")):
            continue
        (root / model.name).mkdir(exist_ok=True)
        place_version(newest(models, model.name), root / model.name, 1)
    return root


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@pytest.fixture(scope="session")
def repo(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frozen private copy of every model (the shared models/ may be re-exported)."""
    return private_repo(models_dir, tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def launch_server(
    launch_server: Callable[..., RunningServer],
) -> Iterator[Callable[..., RunningServer]]:
    """The root fixture, but each module's servers stop when the module ends (these
    tests start a dozen servers; holding them all to the end of the run costs ~1 GB)."""
    started: list[RunningServer] = []

    def start(models: Path, *flags: str, wait: bool = True) -> RunningServer:
        server = launch_server(models, *flags, wait=wait)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
