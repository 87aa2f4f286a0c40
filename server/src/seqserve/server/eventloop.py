"""The event loop the server runs on: uvloop when installed, else asyncio's own.

uvloop (libuv) runs the same asyncio code with cheaper scheduling, socket and timer work.
The gRPC front end, every call's task and the batchers' hand-offs all run on this loop, so
it costs less per call. Chosen once, at start, by `--event-loop`.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from seqserve.server.errors import StartupError
from seqserve.server.settings import EventLoop


class LoopUnavailable(StartupError):
    """--event-loop uvloop without uvloop installed."""


@dataclass(frozen=True)
class Loop:
    name: str  # "uvloop 0.23.0" or "asyncio"
    factory: Callable[[], asyncio.AbstractEventLoop]


def choose(setting: EventLoop, find_uvloop: Callable[[], ModuleType | None] | None = None) -> Loop:
    """The loop for the setting; `find_uvloop` returns the uvloop module, or None without it."""
    if setting is EventLoop.ASYNCIO:
        return Loop("asyncio", asyncio.new_event_loop)
    module = (find_uvloop or _import_uvloop)()
    if module is not None:
        return Loop(f"uvloop {module.__version__}", module.new_event_loop)
    if setting is EventLoop.UVLOOP:
        raise LoopUnavailable(
            "--event-loop uvloop: uvloop is not installed (pip install uvloop), "
            "or use --event-loop asyncio"
        )
    return Loop("asyncio", asyncio.new_event_loop)


def _import_uvloop() -> ModuleType | None:
    try:
        return importlib.import_module("uvloop")
    except ImportError:
        return None
