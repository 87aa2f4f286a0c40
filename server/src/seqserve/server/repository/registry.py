"""The model repository: scans `<root>/<name>/<int version>/`, loads the versions it keeps
(every one, or each model's newest `keep_versions` ready ones), resolves requests to a ready
version (newest by default) and reports readiness."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from seqserve.server.errors import ModelNotFound, ModelNotReady, VersionNotFound
from seqserve.server.repository.loader import ModelVersion, load_version
from seqserve.server.runtime import SessionFactory
from seqserve.server.settings import Settings
from seqserve.v1 import seqserve_pb2 as pb

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelState:
    """What ListModels/GetModel report for one model (or one version)."""

    info: pb.ModelInfo
    ready: bool
    reason: str
    versions: tuple[int, ...]  # ready versions, newest last


MAX_VERSION = 2**31 - 1  # version folders: decimal, no leading zero, 1 to this
VERSION_NAME = re.compile(r"[1-9][0-9]{0,9}")


def version_of(name: str) -> int | None:
    """A version folder's number: ASCII digits without a leading zero, 1 to MAX_VERSION."""
    if VERSION_NAME.fullmatch(name) is None or int(name) > MAX_VERSION:
        return None
    return int(name)


def scan(root: Path) -> dict[str, list[tuple[int, Path]]]:
    """Model folders and their version folders, oldest first (hidden ones are skipped)."""
    return scan_folders(root)[0]


def scan_folders(
    root: Path,
) -> tuple[dict[str, list[tuple[int, Path]]], dict[str, list[str]]]:
    """`scan`, and per model the folders that are not versions (named `01`, `²` or
    `99999999999999999999`), so a careless deploy is reported instead of silently skipped
    or read as another version."""
    found: dict[str, list[tuple[int, Path]]] = {}
    odd: dict[str, list[str]] = {}
    if not root.is_dir():
        return found, odd
    try:
        models = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        log.error("cannot list the model repository: %s", exc)
        return found, odd
    for model in models:
        versions: list[tuple[int, Path]] = []
        try:
            folders = sorted(v for v in model.iterdir() if v.is_dir())
        except OSError as exc:
            log.error("cannot list model folder %s: %s", model.name, exc)
            continue
        for folder in folders:
            if folder.name.startswith("."):
                continue
            number = version_of(folder.name)
            if number is None:
                odd.setdefault(model.name, []).append(
                    f"folder {short_name(folder.name)!r} ignored: version folders are named "
                    f"by a decimal number 1-{MAX_VERSION} without leading zeros"
                )
            else:
                versions.append((number, folder))
        if versions:
            found[model.name] = sorted(versions)
    return found, odd


def short_name(name: str, limit: int = 40) -> str:
    """A folder name as shown in reasons and logs: at most `limit` characters."""
    return name if len(name) <= limit else name[: limit - 3] + "..."


class Repository:
    def __init__(self, settings: Settings, factory: SessionFactory) -> None:
        self._settings = settings
        self._factory = factory
        self._models: dict[str, dict[int, ModelVersion]] = {}
        self._notes: dict[str, str] = {}  # per model, from hot reload (reload.py)

    def load_all(self, workers: int = 2) -> None:
        """Load each model's versions newest first, as many as it keeps (in a small pool, a
        model per task: onnxruntime releases the GIL)."""
        found, odd = scan_folders(self._settings.models)
        if not found:
            log.warning("no models under %s", self._settings.models)
        for name, problems in odd.items():
            self._notes[name] = "; ".join(problems)
            log.warning("model %s: %s", name, self._notes[name])
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
            loaded = list(pool.map(self._load_model, found.keys(), found.values()))
        self._models = {
            name: {mv.version: mv for mv in versions}
            for name, versions in zip(found, loaded, strict=True)
        }

    def _load_model(self, name: str, versions: list[tuple[int, Path]]) -> list[ModelVersion]:
        loaded: list[ModelVersion] = []
        for version, path in reversed(versions):
            if not _wanted(self._settings.keep_versions, version, loaded):
                break
            loaded.append(load_version(path, name, version, self._factory, self._settings))
        return loaded

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        for mv in self._versions():
            if mv.engine is not None:
                mv.engine.start(loop)

    def stop(self) -> None:
        for mv in self._versions():
            if mv.engine is not None:
                mv.engine.stop()

    def _versions(self) -> list[ModelVersion]:
        return [mv for versions in self._models.values() for mv in versions.values()]

    # ------------------------------------------------------------ hot reload (reload.py)

    @property
    def root(self) -> Path:
        return self._settings.models

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def factory(self) -> SessionFactory:
        return self._factory

    def folder(self, name: str, version: int) -> Path:
        return self._settings.models / name / str(version)

    def versions(self) -> list[ModelVersion]:
        return self._versions()

    def get(self, name: str, version: int) -> ModelVersion | None:
        return self._models.get(name, {}).get(version)

    def add(self, mv: ModelVersion) -> None:
        """Add or replace a version (started already if ready); the newest ready serves."""
        self._models.setdefault(mv.name, {})[mv.version] = mv

    def discard(self, name: str, version: int) -> None:
        """Forget a version that is not ready (its folder is gone)."""
        mv = self.get(name, version)
        if mv is not None and not mv.ready:
            del self._models[name][version]
            if not self._models[name]:
                del self._models[name]

    def wanted(self, name: str, version: int) -> bool:
        """Whether a version not loaded yet should be: fewer than `keep_versions` ready
        versions of the model are newer (always, with `keep_versions` 0)."""
        return _wanted(self._settings.keep_versions, version, self._models.get(name, {}).values())

    def surplus(self, name: str) -> list[ModelVersion]:
        """The versions older than the model's newest `keep_versions` ready ones."""
        keep = self._settings.keep_versions
        versions = self._models.get(name, {})
        ready = sorted(v for v, mv in versions.items() if mv.ready)
        if not keep or len(ready) <= keep:
            return []
        return [mv for v, mv in sorted(versions.items()) if v < ready[-keep]]

    def retire(self, mv: ModelVersion) -> None:
        """Resolve `mv` no more (requests naming it get NOT_FOUND); calls and sessions that
        hold it finish on it, and whoever retires it stops its engine after them."""
        del self._models[mv.name][mv.version]

    def note(self, name: str) -> str:
        return self._notes.get(name, "")

    def set_note(self, name: str, text: str) -> None:
        """What ListModels adds to the model's reason (refused or changed versions)."""
        self._notes[name] = text

    @property
    def names(self) -> list[str]:
        return sorted(self._models)

    def resolve(self, name: str, version: int = 0) -> ModelVersion:
        """The version to serve: the one named, or the newest ready one."""
        versions = self._models.get(name)
        if versions is None:
            raise ModelNotFound(name, self.names)
        if version:
            mv = versions.get(version)
            if mv is None:
                raise VersionNotFound(name, version, sorted(versions))
        else:
            ready = [mv for _, mv in sorted(versions.items()) if mv.ready]
            mv = ready[-1] if ready else versions[max(versions)]
        if not mv.ready:
            raise ModelNotReady(name, mv.version, mv.reason)
        return mv

    def state(self, name: str, version: int = 0) -> ModelState:
        versions = self._models.get(name)
        if versions is None:
            raise ModelNotFound(name, self.names)
        ready = tuple(v for v, mv in sorted(versions.items()) if mv.ready)
        if version:
            if version not in versions:
                raise VersionNotFound(name, version, sorted(versions))
            mv = versions[version]
        else:
            mv = versions[ready[-1]] if ready else versions[max(versions)]
        newer = [
            f"version {v} not ready: {versions[v].reason}; serving version {mv.version}"
            for v in sorted(versions)
            if not version and mv.ready and v > mv.version and not versions[v].ready
        ]
        note = "" if version else self._notes.get(name, "")
        reason = "; ".join(r for r in (mv.reason, *newer, note) if r)
        return ModelState(mv.info, mv.ready, reason, ready)

    def states(self) -> list[ModelState]:
        return [self.state(name) for name in self.names]

    @property
    def all_ready(self) -> bool:
        return all(mv.ready for mv in self._versions())


def _wanted(keep: int, version: int, loaded: Iterable[ModelVersion]) -> bool:
    return not keep or sum(mv.ready and mv.version > version for mv in loaded) < keep
