"""The model repository: owns every version from loading to unloading, and resolves requests.

At start-up `load_all` loads what `<root>/<name>/<int version>/` holds (every version, or
each model's newest `keep_versions` ready ones). While the server serves, `sync` (the
reloader calls it on a timer and on SIGHUP) applies what changed in the folder:

- A version folder that is not loaded yet is loaded and warmed off the event loop, with
  every check a start-up load makes (manifest, SHA-256 of each graph, signatures, warm-up).
  If it is ready it starts and becomes the newest ready version, so requests that name no
  version go to it from then on. Calls already holding the old version, and sessions
  opened on it, finish on it, and a request may still name it.
- A version that fails its checks is recorded as not ready (GetModel on that version says
  why, the model's ListModels reason names it) and the newest ready version keeps serving.
  Its folder removed, it is forgotten. It is tried again once its files change (a deploy
  that was still being copied).
- A loaded version whose files vanish or change on disk keeps serving the graphs it holds
  in memory; the model's reason says so until the files are back as they were.
- With `--keep-versions N`, versions are considered newest first and only while fewer than
  N newer ones are ready. Once a newer version is ready, a version past the newest N ready
  ones is retired (`retire`): requests naming it get NOT_FOUND at once, calls in flight and
  sessions opened on it finish on it, and when the last has ended its engine stops (its
  worker threads end) and its memory is freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from seqserve.server import heap
from seqserve.server.errors import ModelNotFound, ModelNotReady, VersionNotFound
from seqserve.server.repository.disk import Fingerprint, Found, Odd, fingerprint, scan_folders
from seqserve.server.repository.loader import ModelVersion, load_version
from seqserve.server.runtime import SessionFactory
from seqserve.server.settings import Settings
from seqserve.server.totals import Totals
from seqserve.v1 import seqserve_pb2 as pb

log = logging.getLogger(__name__)

Key = tuple[str, int]
UNLOAD_POLL_S = 0.2  # how often a retired version is checked for calls and sessions left


@dataclass(frozen=True, slots=True)
class ModelState:
    """What ListModels/GetModel report for one model (or one version)."""

    info: pb.ModelInfo
    ready: bool
    reason: str
    versions: tuple[int, ...]  # ready versions, newest last


@dataclass(frozen=True, slots=True)
class Changes:
    """What one `sync` did."""

    loaded: list[ModelVersion]  # new versions, ready or refused
    retired: list[ModelVersion]  # resolved no more; unloaded once their calls end


class Repository:
    def __init__(
        self,
        settings: Settings,
        factory: SessionFactory,
        totals: Totals,
        in_use: Callable[[ModelVersion], bool] = lambda mv: False,
    ) -> None:
        """`totals`: what the engines' calls count in. `in_use(version)`: whether something
        besides calls holds a version (open sessions); a retired version is unloaded only
        once that is false."""
        self._settings = settings
        self._totals = totals
        self._root = settings.models
        self._keep = settings.keep_versions
        self._factory = factory
        self._in_use = in_use
        self._models: dict[str, dict[int, ModelVersion]] = {}
        self._notes: dict[str, str] = {}  # per model: odd folders, files changed after load
        self._seen: dict[Key, Fingerprint | None] = {}  # files as loaded (or as refused)
        self._unloading: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one sync at a time

    # ------------------------------------------------------------ start-up and shutdown

    def load_all(self, workers: int = 2) -> None:
        """Load each model's versions newest first, as many as it keeps (in a small pool, a
        model per task: onnxruntime releases the GIL)."""
        found, odd = scan_folders(self._root)
        if not found:
            log.warning("no models under %s", self._root)
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
            if not _wanted(self._keep, version, loaded):
                break
            self._seen[(name, version)] = fingerprint(path)
            loaded.append(
                load_version(path, name, version, self._factory, self._settings, self._totals)
            )
        return loaded

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        for mv in self._versions():
            if mv.engine is not None:
                mv.engine.start(loop)

    async def close(self) -> None:
        """Stop every engine: retired ones still waiting for their calls, then the rest."""
        for task in list(self._unloading):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.get_running_loop().run_in_executor(None, self._stop_all)

    def _stop_all(self) -> None:
        for mv in self._versions():
            if mv.engine is not None:
                mv.engine.stop()

    def _versions(self) -> list[ModelVersion]:
        return [mv for versions in self._models.values() for mv in versions.values()]

    # ------------------------------------------------------------ changes while serving

    async def sync(self, found: Found | None = None) -> Changes:
        """Apply what the folder holds now (`found`: a scan of it, made here when None):
        load what is new, retire what `keep_versions` no longer keeps, note changed files."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            odd: Odd = {}
            if found is None:
                found, odd = await loop.run_in_executor(None, scan_folders, self._root)
            assert found is not None
            loaded: list[ModelVersion] = []
            retired: list[ModelVersion] = []
            for name, versions in found.items():
                for version, folder in reversed(versions):  # newest first
                    if not _wanted(self._keep, version, self._models.get(name, {}).values()):
                        break
                    mv = await self._consider(name, version, folder)
                    if mv is not None:
                        loaded.append(mv)
                for old in self._surplus(name):
                    self.retire(old)
                    retired.append(old)
            await self._report(found, odd)
            return Changes(loaded, retired)

    async def _consider(self, name: str, version: int, folder: Path) -> ModelVersion | None:
        loop = asyncio.get_running_loop()
        key = (name, version)
        current = self._models.get(name, {}).get(version)
        prints = await loop.run_in_executor(None, fingerprint, folder)
        if current is not None and (current.ready or self._seen.get(key) == prints):
            return None  # loaded, or refused and unchanged since
        mv = await loop.run_in_executor(
            None,
            load_version,
            folder,
            name,
            version,
            self._factory,
            self._settings,
            self._totals,
        )
        self._seen[key] = prints
        if mv.engine is not None:
            mv.engine.start(loop)
        self._models.setdefault(name, {})[version] = mv  # the newest ready one serves
        if mv.ready:
            log.info(
                "reload: model %s version %d loaded; new requests go to version %d",
                name,
                version,
                self.resolve(name).version,
            )
        else:
            log.error("reload: model %s version %d refused: %s", name, version, mv.reason)
        return mv

    def _surplus(self, name: str) -> list[ModelVersion]:
        """The versions older than the model's newest `keep_versions` ready ones."""
        versions = self._models.get(name, {})
        ready = sorted(v for v, mv in versions.items() if mv.ready)
        if not self._keep or len(ready) <= self._keep:
            return []
        return [mv for v, mv in sorted(versions.items()) if v < ready[-self._keep]]

    def retire(self, mv: ModelVersion) -> None:
        """Resolve `mv` no more (requests naming it get NOT_FOUND); calls and sessions that
        hold it finish on it, then its engine stops (on the event loop)."""
        del self._models[mv.name][mv.version]
        self._seen.pop((mv.name, mv.version), None)
        if mv.engine is None:
            return
        log.info(
            "reload: model %s version %d retired (keep_versions %d); unloading it once its "
            "calls and sessions end",
            mv.name,
            mv.version,
            self._keep,
        )
        task = asyncio.create_task(self._unload(mv), name=f"unload-{mv.name}-{mv.version}")
        self._unloading.add(task)
        task.add_done_callback(self._unloading.discard)

    async def _unload(self, mv: ModelVersion) -> None:
        engine = mv.engine
        assert engine is not None
        try:
            while not engine.idle or self._in_use(mv):
                await asyncio.sleep(UNLOAD_POLL_S)
        finally:  # at shutdown too: the server has stopped serving by then
            await asyncio.get_running_loop().run_in_executor(None, engine.stop)
            mv.engine = None
            heap.refreeze()
            log.info("reload: model %s version %d unloaded", mv.name, mv.version)

    async def _report(self, found: Found, odd: Odd) -> None:
        """Per model: folders that are not versions, loaded versions whose files changed or
        vanished; forget refused versions whose folder is gone."""
        loop = asyncio.get_running_loop()
        on_disk = {(name, v) for name, versions in found.items() for v, _ in versions}
        notes: dict[str, list[str]] = {name: list(problems) for name, problems in odd.items()}
        for mv in self._versions():
            key = (mv.name, mv.version)
            if not mv.ready:  # `state` reports it ("version N not ready: ...")
                if key not in on_disk:
                    self._forget(mv)
                continue
            folder = self._root / mv.name / str(mv.version)
            now = await loop.run_in_executor(None, fingerprint, folder)
            if now == self._seen.get(key):
                continue
            what = "were removed" if now is None else "changed"
            notes.setdefault(mv.name, []).append(
                f"version {mv.version} files {what} on disk after load; serving the loaded "
                "copy from memory"
            )
        for name in self.names:
            text = "; ".join(notes.get(name, []))
            if text != self._notes.get(name, ""):
                (log.warning if text else log.info)(
                    "reload: model %s: %s", name, text or "files match the loaded versions"
                )
                self._notes[name] = text

    def _forget(self, mv: ModelVersion) -> None:
        """A version that is not ready and whose folder is gone."""
        del self._models[mv.name][mv.version]
        if not self._models[mv.name]:
            del self._models[mv.name]

    # ------------------------------------------------------------ requests

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


def _wanted(keep: int, version: int, loaded: Iterable[ModelVersion]) -> bool:
    return not keep or sum(mv.ready and mv.version > version for mv in loaded) < keep
