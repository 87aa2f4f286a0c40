"""Hot reload: new version folders load while the server serves; changed files are reported.

A check (every `poll` seconds, on SIGHUP, or called directly) scans the repository:

- A version folder that is not loaded yet is loaded and warmed off the event loop, with
  every check a start-up load makes (manifest, SHA-256 of each graph, signatures, warm-up).
  If it is ready it starts and becomes the newest ready version, so requests that name no
  version go to it from then on. Calls already holding the old version, and sessions
  opened on it, finish on it: nothing is unloaded, and a request may still name it.
- A version that fails its checks is recorded as not ready (GetModel on that version says
  why, the model's ListModels reason names it) and the newest ready version keeps serving.
  Its folder removed, it is forgotten.
  It is tried again once its files change (a deploy that was still being copied).
- A loaded version whose files vanish or change on disk keeps serving the graphs it holds
  in memory; the model's reason says so until the files are back as they were.
- With `--keep-versions N`, versions are considered newest first and only while fewer than
  N newer ones are ready. Once a newer version is ready, a version past the newest N ready
  ones is retired: requests naming it get NOT_FOUND at once, calls in flight and sessions
  opened on it finish on it, and when the last has ended its engine stops (its worker
  threads end) and its memory is freed.

Safe deploys stage the folder elsewhere (e.g. `models/addition/.3-tmp/`, hidden names are
ignored) and `rename` it into place, so a scan never sees half a folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from seqserve.server import heap
from seqserve.server.repository.loader import ModelVersion, load_version
from seqserve.server.repository.registry import Repository, scan_folders

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]
Key = tuple[str, int]
UNLOAD_POLL_S = 0.2  # how often a retired version is checked for calls and sessions left


def fingerprint(folder: Path) -> Fingerprint | None:
    """Names, sizes and modification times of a folder's files; None when it is gone."""
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
        return tuple((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in entries)
    except OSError:
        return None


class Reloader:
    """Owns the repository's changes after start-up; one check runs at a time."""

    def __init__(
        self,
        repository: Repository,
        poll: float,
        in_use: Callable[[ModelVersion], bool] = lambda mv: False,
        after_check: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`in_use(version)`: whether something besides calls holds a version (open
        sessions); a retired version is unloaded only once that is false. `after_check`
        runs after every check (the server updates its health there)."""
        self._after_check = after_check
        self._repository = repository
        self._poll = poll
        self._in_use = in_use
        self._unloading: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[Key, Fingerprint | None] = {}  # files as loaded (or as refused)
        self.checks = 0

    async def start(self) -> None:
        """Remember the files of what is loaded; start polling when `poll` > 0."""
        loop = asyncio.get_running_loop()
        for mv in self._repository.versions():
            folder = self._repository.folder(mv.name, mv.version)
            self._seen[(mv.name, mv.version)] = await loop.run_in_executor(
                None, fingerprint, folder
            )
        self._task = asyncio.create_task(self._run(), name="reload")

    def trigger(self) -> None:
        """Check soon (SIGHUP)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop checking; retired versions still waiting for their calls are unloaded now."""
        for task in [self._task, *self._unloading]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll or None):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.check()
            except Exception:  # a failed check must not end reloading
                log.exception("repository check failed")

    async def check(self) -> list[ModelVersion]:
        """One scan: load what is new, report what changed. Returns the versions loaded."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            root = self._repository.root
            found, odd = await loop.run_in_executor(None, scan_folders, root)
            loaded: list[ModelVersion] = []
            for name, versions in found.items():
                for version, folder in reversed(versions):  # newest first
                    if not self._repository.wanted(name, version):
                        break
                    mv = await self._consider(name, version, folder)
                    if mv is not None:
                        loaded.append(mv)
                for old in self._repository.surplus(name):
                    self._retire(old)
            await self._report(found, odd)
            self.checks += 1
            if self._after_check is not None:
                await self._after_check()
            return loaded

    async def _consider(self, name: str, version: int, folder: Path) -> ModelVersion | None:
        loop = asyncio.get_running_loop()
        key = (name, version)
        current = self._repository.get(name, version)
        prints = await loop.run_in_executor(None, fingerprint, folder)
        if current is not None and (current.ready or self._seen.get(key) == prints):
            return None  # loaded, or refused and unchanged since
        repository = self._repository
        mv = await loop.run_in_executor(
            None, load_version, folder, name, version, repository.factory, repository.settings
        )
        self._seen[key] = prints
        if mv.engine is not None:
            mv.engine.start(loop)
        repository.add(mv)
        if mv.ready:
            serving = repository.resolve(name).version
            log.info(
                "reload: model %s version %d loaded; new requests go to version %d",
                name,
                version,
                serving,
            )
        else:
            log.error("reload: model %s version %d refused: %s", name, version, mv.reason)
        return mv

    def _retire(self, mv: ModelVersion) -> None:
        self._repository.retire(mv)
        self._seen.pop((mv.name, mv.version), None)
        if mv.engine is None:
            return
        log.info(
            "reload: model %s version %d retired (keep_versions %d); unloading it once its "
            "calls and sessions end",
            mv.name,
            mv.version,
            self._repository.settings.keep_versions,
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

    async def _report(
        self, found: dict[str, list[tuple[int, Path]]], odd: dict[str, list[str]]
    ) -> None:
        """Per model: folders that are not versions, loaded versions whose files changed or
        vanished; forget refused versions whose folder is gone."""
        loop = asyncio.get_running_loop()
        on_disk = {(name, v): path for name, versions in found.items() for v, path in versions}
        notes: dict[str, list[str]] = {name: list(problems) for name, problems in odd.items()}
        for mv in self._repository.versions():
            key = (mv.name, mv.version)
            if not mv.ready:  # the registry reports it ("version N not ready: ...")
                if key not in on_disk:
                    self._repository.discard(mv.name, mv.version)
                continue
            folder = self._repository.folder(mv.name, mv.version)
            now = await loop.run_in_executor(None, fingerprint, folder)
            if now == self._seen.get(key):
                continue
            what = "were removed" if now is None else "changed"
            notes.setdefault(mv.name, []).append(
                f"version {mv.version} files {what} on disk after load; serving the loaded "
                "copy from memory"
            )
        for name in self._repository.names:
            text = "; ".join(notes.get(name, []))
            if text != self._repository.note(name):
                (log.warning if text else log.info)(
                    "reload: model %s: %s", name, text or "files match the loaded versions"
                )
                self._repository.set_note(name, text)
