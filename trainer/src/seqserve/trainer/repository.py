"""The model repository on disk: ``<models>/<name>/<version>/`` with integer versions.

Publishing is atomic: a version is assembled in a hidden temporary folder inside
``<models>/<name>/`` (a name the server ignores, since it is not an integer), synced to disk,
then renamed to its version number in one step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from seqserve.contract.manifest import MANIFEST, read_manifest
from seqserve.v1 import seqserve_pb2 as pb


def graph_file(
    path: Path, role: int, inputs: Iterable[pb.TensorSpec], outputs: Iterable[pb.TensorSpec]
) -> pb.GraphFile:
    """The manifest's record of the graph written at ``path``: its SHA-256 and size."""
    data = path.read_bytes()
    return pb.GraphFile(
        role=role,
        file=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        inputs=inputs,
        outputs=outputs,
    )


def versions(models: Path, name: str) -> list[int]:
    """Published versions of a model, oldest first (folders named by an integer)."""
    folder = models / name
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())


def latest(models: Path, name: str) -> tuple[int, pb.ModelInfo] | None:
    """The newest version with a readable manifest, or None."""
    for version in reversed(versions(models, name)):
        folder = models / name / str(version)
        if (folder / MANIFEST).is_file():
            return version, read_manifest(folder)
    return None


def staging(models: Path, name: str, version: int) -> Path:
    """A fresh temporary folder for assembling ``version``."""
    tmp = models / name / f".tmp-{version}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, version: int) -> Path:
    """Sync every file of ``tmp`` and rename it to the version folder beside it."""
    for child in tmp.iterdir():
        _fsync(child)
    _fsync(tmp)
    final = tmp.parent / str(version)
    os.rename(tmp, final)  # fails if the version exists: never overwrite a published model
    _fsync(tmp.parent)
    return final


def discard(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)


def clean_stale(models: Path, name: str) -> None:
    """Remove temporary folders left by interrupted exports whose process is gone."""
    folder = models / name
    if not folder.is_dir():
        return
    for child in folder.glob(".tmp-*"):
        pid = child.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(child, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
