"""--event-loop: uvloop by default when installed, the standard asyncio loop on request."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from seqserve.server import eventloop
from seqserve.server.settings import EventLoop

from .conftest import answers


def test_the_default_loop_is_uvloop(server) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("uvloop")
    assert "event loop: uvloop" in server.log


def test_the_asyncio_loop_answers_as_uvloop_does(launch_server, server, models_dir: Path) -> None:  # type: ignore[no-untyped-def]
    plain = launch_server(models_dir, "--event-loop", "asyncio")
    assert "event loop: asyncio" in plain.log
    expected = answers(server.target)
    assert expected["concurrent"] == expected["reverse"] * 8
    assert answers(plain.target) == expected
    assert plain.stop(signal.SIGTERM) == 0


def test_choose() -> None:
    assert eventloop.choose(EventLoop.ASYNCIO).name == "asyncio"
    assert eventloop.choose(EventLoop.AUTO, lambda: None).name == "asyncio"
    with pytest.raises(eventloop.LoopUnavailable, match=r"uvloop.*--event-loop asyncio"):
        eventloop.choose(EventLoop.UVLOOP, lambda: None)
    uvloop = pytest.importorskip("uvloop")
    for setting in (EventLoop.AUTO, EventLoop.UVLOOP):
        chosen = eventloop.choose(setting)
        assert chosen.name == f"uvloop {uvloop.__version__}"
        loop = chosen.factory()
        try:
            assert isinstance(loop, uvloop.Loop)
        finally:
            loop.close()
