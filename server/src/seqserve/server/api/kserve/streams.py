"""Answer the requests of one bidirectional stream concurrently, as Triton does.

Each request is handled in a task of its own, so the requests of one stream batch
together (dynamic batching, and continuous batching of seq2seq decoding) instead of
waiting for each other; responses are sent as they are ready and matched to requests by
`id`. Requests for which `in_order(request)` is true (steps of a stateful sequence) are
handled one after another, in arrival order, before the next request is read.

Back-pressure: at most `limit` requests are in flight and at most `limit` responses wait
to be sent; past that the stream stops reading until the caller catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TypeVar, cast

Request = TypeVar("Request")
Response = TypeVar("Response")

_DONE = object()


async def concurrently(
    requests: AsyncIterator[Request],
    handle: Callable[[Request], AsyncIterator[Response]],
    in_order: Callable[[Request], bool],
    limit: int = 64,
) -> AsyncIterator[Response]:
    """Responses of every request, as they come. `handle` must report failures as responses."""
    out: asyncio.Queue[object] = asyncio.Queue(maxsize=limit)
    slots = asyncio.Semaphore(limit)
    tasks: set[asyncio.Task[None]] = set()

    async def run(request: Request) -> None:
        try:
            async for response in handle(request):
                await out.put(response)
        finally:
            slots.release()

    async def read() -> None:
        try:
            async for request in requests:
                await slots.acquire()
                if in_order(request):
                    await run(request)
                    continue
                task = asyncio.create_task(run(request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            raise  # the caller has gone (the answering side cancelled us): nobody waits
        except BaseException:
            await out.put(_DONE)  # the answering side re-raises it from `await reader`
            raise
        await out.put(_DONE)

    reader = asyncio.create_task(read())
    try:
        while (item := await out.get()) is not _DONE:
            yield cast(Response, item)
        await reader  # re-raises a failure to read the requests
    finally:
        for task in (reader, *tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(reader, *tasks, return_exceptions=True)
