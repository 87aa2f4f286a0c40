"""The dynamic batcher: what goes into each model call, and who gets what back."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from seqserve.server.errors import DeadlineExceeded, Overloaded
from seqserve.server.execution.batcher import Batcher


class Recorder:
    """A fake model: doubles its inputs, records each batch, can be held or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def __call__(self, items: list[int]) -> list[int]:
        self.gate.wait(5)
        self.batches.append(list(items))
        if self.fail:
            raise RuntimeError("model exploded")
        return [2 * i for i in items]


def make(run: Recorder, size: int = 4, delay_us: int = 0, queue: int = 100) -> Batcher[int, int]:
    batcher = Batcher(
        "fake", run, max_batch_size=size, max_batch_delay_us=delay_us, max_queue=queue
    )
    batcher.start(asyncio.get_running_loop())
    return batcher


async def test_queued_requests_share_one_call_and_get_their_own_slice() -> None:
    run = Recorder()
    run.gate.clear()  # hold the worker on the first batch so the rest queue up
    batcher = make(run)
    first = batcher.submit([1])
    await asyncio.sleep(0.05)
    rest = [batcher.submit([10, 11]), batcher.submit([20]), batcher.submit([30])]
    run.gate.set()
    assert await first == [2]
    assert [await f for f in rest] == [[20, 22], [40], [60]]
    assert run.batches == [[1], [10, 11, 20, 30]]
    batcher.stop()


async def test_a_request_still_queued_at_its_deadline_is_refused_and_never_run() -> None:
    run = Recorder()
    run.gate.clear()
    batcher = make(run)
    first = batcher.submit([1])
    await asyncio.sleep(0.05)  # the worker is holding [1]
    with pytest.raises(DeadlineExceeded):
        await batcher.infer([7], time.monotonic() + 0.05)
    run.gate.set()
    assert await first == [2]
    assert await batcher.infer([3], time.monotonic() + 5) == [6]
    assert run.batches == [[1], [3]]  # the expired request's item cost no compute
    batcher.stop()


async def test_batches_stop_at_max_batch_size_without_splitting_a_request() -> None:
    run = Recorder()
    run.gate.clear()
    batcher = make(run, size=3)
    first = batcher.submit([0])
    await asyncio.sleep(0.05)
    futures = [batcher.submit([1, 2]), batcher.submit([3, 4]), batcher.submit([5])]
    run.gate.set()
    await asyncio.gather(first, *futures)
    assert run.batches == [[0], [1, 2, 3, 4], [5]]
    batcher.stop()


async def test_delay_collects_requests_arriving_within_it() -> None:
    run = Recorder()
    batcher = make(run, size=8, delay_us=200_000)
    a = batcher.submit([1])
    await asyncio.sleep(0.02)
    b = batcher.submit([2])
    assert await asyncio.gather(a, b) == [[2], [4]]
    assert run.batches == [[1, 2]]
    batcher.stop()


async def test_cancelled_callers_are_dropped_before_the_call() -> None:
    run = Recorder()
    run.gate.clear()
    batcher = make(run)
    first = batcher.submit([1])
    await asyncio.sleep(0.05)
    gone = batcher.submit([2])
    kept = batcher.submit([3])
    gone.cancel()
    run.gate.set()
    assert await first == [2]
    assert await kept == [6]
    assert run.batches == [[1], [3]]
    batcher.stop()


async def test_a_failing_batch_fails_every_waiter_with_the_same_error() -> None:
    run = Recorder()
    run.gate.clear()
    batcher = make(run)
    hold = batcher.submit([0])
    await asyncio.sleep(0.05)
    run.fail = True
    a, b = batcher.submit([1]), batcher.submit([2])
    run.gate.set()
    with pytest.raises(RuntimeError):
        await hold
    errors = await asyncio.gather(a, b, return_exceptions=True)
    assert all(isinstance(e, RuntimeError) for e in errors)
    assert errors[0] is errors[1]
    run.fail = False
    assert await batcher.submit([5]) == [10]  # the batcher keeps serving
    batcher.stop()


async def test_full_queue_is_refused_at_once() -> None:
    run = Recorder()
    run.gate.clear()
    batcher = make(run, queue=3)
    first = batcher.submit([0])
    await asyncio.sleep(0.05)  # taken by the worker: no longer queued
    queued = batcher.submit([1, 2, 3])
    with pytest.raises(Overloaded, match="queue full \\(3 items"):
        batcher.submit([4])
    run.gate.set()
    assert await first == [0]
    assert await queued == [2, 4, 6]
    batcher.stop()
