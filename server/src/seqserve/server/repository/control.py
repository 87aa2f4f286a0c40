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

from seqserve.server.errors import ControlOff, ModelNotReady
from seqserve.server.repository.registry import Repository, VersionRow
from seqserve.server.settings import ModelControlMode


class ModelControl:
    """The repository's `load`, `unload` and `index`, with load and unload allowed in
    explicit mode only."""

    def __init__(self, repository: Repository, mode: ModelControlMode) -> None:
        self._repository = repository
        self.mode = mode

    def _allowed(self) -> None:
        if self.mode is not ModelControlMode.EXPLICIT:
            raise ControlOff(self.mode.value)

    async def load(self, name: str, version: int = 0) -> list[VersionRow]:
        """Load (or reload) `name`'s versions, or one; ModelNotReady when none is ready."""
        self._allowed()
        rows = await self._repository.load(name, version)
        if rows and not any(row.state == "READY" for row in rows):
            raise ModelNotReady(name, rows[0].version, rows[0].reason)
        return rows

    async def unload(self, name: str, version: int = 0) -> list[VersionRow]:
        """Unload `name`'s versions, or one; answers once they are unloaded."""
        self._allowed()
        return await self._repository.unload(name, version)

    async def index(self) -> list[VersionRow]:
        return await self._repository.index()
