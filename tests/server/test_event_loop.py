"""--event-loop: uvloop by default when installed, the standard asyncio loop on request."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from seqserve.client import Client
from seqserve.server import eventloop
from seqserve.server.settings import EventLoop

SOURCES = [[3, 9, 27, 1, 5, 8], [50, 1, 2, 3, 4, 5], [7, 7, 7, 7, 7, 7]]
SUMS = ["3+10", "10+10", "1+1"]
RECALL = [0, 1, 2, 3, 4, 0, 2]


def answers(target: str) -> dict[str, Any]:
    """What one user sees: single and batched calls, concurrent calls, a stream, a session."""
    with Client(target) as client:
        out: dict[str, Any] = {
            "reverse": [client.predict("reverse", s).ints for s in SOURCES],
            "reverse batch": [p.ints for p in client.predict("reverse", SOURCES)],
            "addition": [client.predict("addition", s).text for s in SUMS],
            "stream": [getattr(e, "symbol", None) for e in client.stream("reverse", SOURCES[0])],
        }
        with ThreadPoolExecutor(8) as pool:  # concurrent callers share the batchers
            out["concurrent"] = list(
                pool.map(lambda s: client.predict("reverse", s).ints, SOURCES * 8)
            )
        with client.session("recall") as session:
            out["session"] = [session.step(s).symbol for s in RECALL]
    return out


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
