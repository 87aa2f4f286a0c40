"""Hot reload: when the repository looks at its folder again.

Every `poll` seconds (0: never), and at once on SIGHUP (`trigger`), the reloader asks the
repository to `sync` with what its folder holds; what a sync does (load new versions,
report changed files, retire what `--keep-versions` no longer keeps) is the repository's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from seqserve.server.repository.registry import Changes, Repository

log = logging.getLogger(__name__)


class Reloader:
    """Schedules the repository's syncs; one runs at a time."""

    def __init__(
        self,
        repository: Repository,
        poll: float,
        after_check: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`after_check` runs after every sync (the server updates its health there)."""
        self._after_check = after_check
        self._repository = repository
        self._poll = poll
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reload")

    def trigger(self) -> None:
        """Sync soon (SIGHUP)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def check(self) -> Changes:
        """One sync now."""
        try:
            return await self._repository.sync()
        finally:
            if self._after_check is not None:
                await self._after_check()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll or None):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.check()
            except Exception:  # a failed sync must not end reloading
                log.exception("repository check failed")
