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

With `--model-control explicit` only the `--load-model` models load at start, and `load` and
`unload` (control.py) do the rest: `load` is a sync of one model that also reloads versions
whose files changed; `unload` retires versions and waits until they are unloaded. `index`
reports every version on disk or in memory with its state (READY, LOADING, UNLOADING,
UNAVAILABLE) and reason.
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
from seqserve.server.errors import ModelNotFound, ModelNotReady, StartupError, VersionNotFound
from seqserve.server.repository.disk import Fingerprint, Found, Odd, fingerprint, scan, scan_folders
from seqserve.server.repository.loader import ModelVersion, load_version
from seqserve.server.runtime import SessionFactory
from seqserve.server.settings import ModelControlMode, Settings
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
class VersionRow:
    """One version on disk or in memory, as `index` (KServe RepositoryIndex) reports it."""

    model: str
    version: int
    state: str  # READY, LOADING, UNLOADING or UNAVAILABLE
    reason: str


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
        self._loading: set[Key] = set()
        self._retiring: dict[Key, ModelVersion] = {}  # retired, waiting for calls to end
        self._unloaded: set[Key] = set()  # unloaded on request, not loaded since
        self._lock = asyncio.Lock()  # one sync at a time

    # ------------------------------------------------------------ start-up and shutdown

    def load_all(self, workers: int = 2) -> None:
        """Load each model's versions newest first, as many as it keeps (in a small pool, a
        model per task: onnxruntime releases the GIL); with --model-control explicit, only
        the --load-model models."""
        found, odd = scan_folders(self._root)
        if self._settings.model_control is ModelControlMode.EXPLICIT:
            names = self._settings.load_model
            missing = [name for name in names if name not in found]
            if missing:
                raise StartupError(
                    f"--load-model {', '.join(missing)}: not in {self._root} "
                    f"(models: {', '.join(found) or 'none'})"
                )
            found = {name: versions for name, versions in found.items() if name in names}
        elif not found:
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

    async def _consider(
        self, name: str, version: int, folder: Path, reload: bool = False
    ) -> ModelVersion | None:
        """Load a version not loaded yet, or refused and changed since; with `reload`, also
        a loaded one whose files changed (the new copy replaces it once ready)."""
        loop = asyncio.get_running_loop()
        key = (name, version)
        current = self._models.get(name, {}).get(version)
        prints = await loop.run_in_executor(None, fingerprint, folder)
        unchanged = self._seen.get(key) == prints
        if current is not None and (unchanged or (current.ready and not reload)):
            return None  # loaded, or refused and unchanged since
        self._loading.add(key)
        try:
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
        finally:
            self._loading.discard(key)
        self._unloaded.discard(key)
        if mv.engine is not None:
            mv.engine.start(loop)
        if current is not None and current.ready:
            if not mv.ready:  # the loaded copy keeps serving
                self._seen[key] = prints
                note = "reload: model %s version %d: changed files refused: %s"
                log.error(note, name, version, mv.reason)
                return mv
            self.retire(current, "replaced by its changed files")
        self._seen[key] = prints
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

    def retire(self, mv: ModelVersion, why: str = "") -> asyncio.Task[None] | None:
        """Resolve `mv` no more (requests naming it get NOT_FOUND); calls and sessions that
        hold it finish on it, then its engine stops (on the event loop): the task returned."""
        key = (mv.name, mv.version)
        if self._models.get(mv.name, {}).get(mv.version) is mv:
            self._forget(mv)
            self._seen.pop(key, None)
        if mv.engine is None:
            return None
        log.info(
            "reload: model %s version %d retired (%s); unloading it once its calls and "
            "sessions end",
            mv.name,
            mv.version,
            why or f"keep_versions {self._keep}",
        )
        self._retiring[key] = mv
        task = asyncio.create_task(self._unload(mv), name=f"unload-{mv.name}-{mv.version}")
        self._unloading.add(task)
        task.add_done_callback(self._unloading.discard)
        return task

    async def _unload(self, mv: ModelVersion) -> None:
        engine = mv.engine
        assert engine is not None
        try:
            while not engine.idle or self._in_use(mv):
                await asyncio.sleep(UNLOAD_POLL_S)
        finally:  # at shutdown too: the server has stopped serving by then
            await asyncio.get_running_loop().run_in_executor(None, engine.stop)
            mv.engine = None
            if self._retiring.get((mv.name, mv.version)) is mv:
                del self._retiring[(mv.name, mv.version)]
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
        """Drop a version (retired, or not ready with its folder gone); the model with it when
        it was the last."""
        del self._models[mv.name][mv.version]
        if not self._models[mv.name]:
            del self._models[mv.name]
            self._notes.pop(mv.name, None)

    # ------------------------------------------------------------ model control (control.py)

    async def load(self, name: str, version: int = 0) -> list[VersionRow]:
        """Load a model's versions as at start (newest first, as many as kept), or the one
        named; reload those whose files changed. Returns the versions considered."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(None, scan, self._root)
            versions = found.get(name)
            if versions is None:
                raise ModelNotFound(name, sorted(found))
            if version:
                versions = [(v, folder) for v, folder in versions if v == version]
                if not versions:
                    raise VersionNotFound(name, version, [v for v, _ in found[name]])
            considered: list[Key] = []
            for v, folder in reversed(versions):
                if not version and not self._wanted_now(name, v):
                    break
                await self._consider(name, v, folder, reload=True)
                considered.append((name, v))
            for old in self._surplus(name):
                self.retire(old)
            return [self._row(key) for key in considered]

    async def unload(self, name: str, version: int = 0) -> list[VersionRow]:
        """Retire a model's loaded versions (or the one named) and wait until each is
        unloaded: new calls get NOT_FOUND at once, calls and sessions in flight finish."""
        async with self._lock:
            self.state(name, version)  # NOT_FOUND for what is not loaded
            targets = [
                mv
                for mv in self._versions()
                if mv.name == name and (not version or mv.version == version)
            ]
            tasks = [self.retire(mv, "unload asked") for mv in targets]
            self._unloaded.update((mv.name, mv.version) for mv in targets)
        pending = [task for task in tasks if task is not None]
        if pending:
            await asyncio.shield(asyncio.gather(*pending))  # goes on if the caller leaves
        return [self._row((mv.name, mv.version)) for mv in targets]

    async def index(self) -> list[VersionRow]:
        """Every version on disk or in memory, by model and version."""
        found = await asyncio.get_running_loop().run_in_executor(None, scan, self._root)
        keys = {(name, v) for name, versions in found.items() for v, _ in versions}
        keys |= {(mv.name, mv.version) for mv in self._versions()}
        return [self._row(key) for key in sorted(keys)]

    def _row(self, key: Key) -> VersionRow:
        name, version = key
        loaded = self._models.get(name, {}).get(version)
        if key in self._loading:
            return VersionRow(name, version, "LOADING", "loading")
        if loaded is not None:
            state = "READY" if loaded.ready else "UNAVAILABLE"
            return VersionRow(name, version, state, loaded.reason)
        if key in self._retiring:
            return VersionRow(name, version, "UNLOADING", "unloading once its calls end")
        if key in self._unloaded:
            return VersionRow(name, version, "UNAVAILABLE", "unloaded")
        if self._settings.model_control is ModelControlMode.EXPLICIT:
            why = "not loaded; ModelControl.Load or RepositoryModelLoad loads it"
        elif not self._wanted_now(name, version):
            why = f"not loaded: older than the newest {self._keep} ready (--keep-versions)"
        else:
            why = "not loaded yet: the next repository scan loads it (SIGHUP, or --poll)"
        return VersionRow(name, version, "UNAVAILABLE", why)

    def _wanted_now(self, name: str, version: int) -> bool:
        return _wanted(self._keep, version, self._models.get(name, {}).values())

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
