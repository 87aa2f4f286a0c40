"""Model control (`--model-control`): which models load, and loading and unloading while serving.

- `none`: every model loads at start; SIGHUP rescans the repository (reload.py).
- `poll`: the same, and a rescan every `--poll` seconds.
- `explicit`: only the `--load-model` models load at start; then what `load` and `unload`
  are asked (the seqserve.v1 `ModelControl` service, KServe `RepositoryModelLoad` and
  `RepositoryModelUnload`); in the other modes they are refused with FAILED_PRECONDITION.

`load` answers once the versions are loaded (or refused by their checks); `unload` once
the calls and sessions in flight on them have ended (the `--keep-versions` retirement).
`index()` lists every version on disk or in memory with its state and reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from seqserve.server.errors import ControlOff, ModelNotReady
from seqserve.server.repository.registry import Repository, scan
from seqserve.server.repository.reload import Key, Reloader
from seqserve.server.settings import ModelControlMode

READY = "READY"
UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class VersionRow:
    model: str
    version: int
    state: str  # READY, LOADING, UNLOADING or UNAVAILABLE (as KServe's RepositoryIndex)
    reason: str


class ModelControl:
    def __init__(self, repository: Repository, reloader: Reloader, mode: ModelControlMode) -> None:
        self._repository = repository
        self._reloader = reloader
        self.mode = mode

    def _allowed(self) -> None:
        if self.mode is not ModelControlMode.EXPLICIT:
            raise ControlOff(self.mode.value)

    async def load(self, name: str, version: int = 0) -> list[VersionRow]:
        """Load (or reload) `name`'s versions, or one; ModelNotReady when none is ready."""
        self._allowed()
        rows = [self._row(key) for key in await self._reloader.load(name, version)]
        if rows and not any(row.state == READY for row in rows):
            raise ModelNotReady(name, rows[0].version, rows[0].reason)
        return rows

    async def unload(self, name: str, version: int = 0) -> list[VersionRow]:
        """Unload `name`'s versions, or one; answers once they are unloaded."""
        self._allowed()
        return [self._row(key) for key in await self._reloader.unload(name, version)]

    async def index(self) -> list[VersionRow]:
        """Every version on disk or loaded, by model and version."""
        found = await asyncio.get_running_loop().run_in_executor(None, scan, self._repository.root)
        keys = {(name, v) for name, versions in found.items() for v, _ in versions}
        keys |= {(mv.name, mv.version) for mv in self._repository.versions()}
        return [self._row(key) for key in sorted(keys)]

    def _row(self, key: Key) -> VersionRow:
        name, version = key
        moving = self._reloader.transition(key)
        loaded = self._repository.get(name, version)
        if moving is not None and (moving[0] == "LOADING" or loaded is None):
            return VersionRow(name, version, *moving)
        if loaded is not None:
            state = READY if loaded.ready else UNAVAILABLE
            return VersionRow(name, version, state, loaded.reason)
        return VersionRow(name, version, UNAVAILABLE, self._why_not_loaded(name, version))

    def _why_not_loaded(self, name: str, version: int) -> str:
        if self.mode is ModelControlMode.EXPLICIT:
            return "not loaded; ModelControl.Load or RepositoryModelLoad loads it"
        keep = self._repository.settings.keep_versions
        if not self._repository.wanted(name, version):
            return f"not loaded: older than the newest {keep} ready versions (--keep-versions)"
        return "not loaded yet: the next repository scan loads it (SIGHUP, or --poll)"
