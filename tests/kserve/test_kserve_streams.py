"""The stream multiplexer, driven with fake handlers: concurrency, order, back-pressure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from seqserve.server.api.kserve.streams import concurrently


async def feed(items: list[str]) -> AsyncIterator[str]:
    for item in items:
        yield item


async def collect(
    items: list[str], delays: dict[str, float], limit: int = 64
) -> tuple[list[str], int]:
    running = 0
    most = 0

    async def handle(request: str) -> AsyncIterator[str]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(delays.get(request, 0.0))
        running -= 1
        yield f"{request}:a"
        yield f"{request}:b"

    out = [r async for r in concurrently(feed(items), handle, lambda r: r.startswith("seq"), limit)]
    return out, most


async def test_slow_request_does_not_hold_up_later_ones() -> None:
    out, most = await collect(["slow", "fast"], {"slow": 0.05})
    assert out == ["fast:a", "fast:b", "slow:a", "slow:b"]
    assert most == 2


async def test_in_order_requests_run_one_at_a_time_in_arrival_order() -> None:
    out, most = await collect(["seq1", "seq2", "seq3"], {"seq1": 0.03, "seq2": 0.01})
    assert out == ["seq1:a", "seq1:b", "seq2:a", "seq2:b", "seq3:a", "seq3:b"]
    assert most == 1


async def test_limit_bounds_requests_in_flight() -> None:
    items = [f"r{k}" for k in range(10)]
    out, most = await collect(items, dict.fromkeys(items, 0.01), limit=3)
    assert sorted(out) == sorted(f"r{k}:{s}" for k in range(10) for s in "ab")
    assert most == 3


async def test_a_failing_request_stream_fails_the_call() -> None:
    async def broken() -> AsyncIterator[str]:
        yield "one"
        raise RuntimeError("connection lost")

    async def handle(request: str) -> AsyncIterator[str]:
        yield request

    with pytest.raises(RuntimeError, match="connection lost"):
        async for _ in concurrently(broken(), handle, lambda r: False):
            pass


async def test_closing_early_cancels_pending_work() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handle(request: str) -> AsyncIterator[str]:
        if request == "quick":
            yield request
            return
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        yield request

    stream = concurrently(feed(["slow", "quick"]), handle, lambda r: False)
    assert await anext(stream) == "quick"
    await started.wait()
    await stream.aclose()  # type: ignore[attr-defined]
    assert cancelled.is_set()
