"""Server-sent events: a stream of JSON objects, one `data:` event each.

The first event is awaited before the response starts, so a request that fails at once
(unknown model, bad input, overload) gets its HTTP status and `{"error": ...}` body like
any other. A failure after that ends the stream with an `event: error` whose data is
`{"error": ...}`. A caller that disconnects cancels the stream and the decoding behind it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from seqserve.server.api.http.errors import error_body

MEDIA_TYPE = "text/event-stream"


def event(data: Any, name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def respond(events: AsyncIterator[Any]) -> Response:
    try:
        first = await anext(events)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await events.aclose()  # type: ignore[attr-defined]
        raise
    return StreamingResponse(
        _rest(first, events),
        media_type=MEDIA_TYPE,
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def _rest(first: Any, events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    try:
        if first is None:
            return
        yield event(first)
        async for data in events:
            yield event(data)
    except Exception as exc:
        yield event(error_body(exc)[1], "error")
    finally:
        await events.aclose()  # type: ignore[attr-defined]
