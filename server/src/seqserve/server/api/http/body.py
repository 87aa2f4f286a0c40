"""Reading a request body within the server's limits, without stalling other callers.

The body may be at most `max_message_bytes` (the gRPC message limit): a `Content-Length`
over it is refused before a byte is read, and a body without one (chunked) is counted as
it arrives and refused once it passes the limit. The whole body must arrive within
`http_body_timeout` seconds. Either way the caller gets 413 or 408 and the connection is
closed; the event loop only ever waits for bytes, so other callers are served meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import ClientDisconnect, Request

from seqserve.server.api.http.errors import HttpError

# What `curl -d` and browsers' forms send by default is accepted as JSON too (Triton
# ignores the type altogether); anything else is refused with the types allowed.
JSON_TYPES = (
    "application/json",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "text/plain",
)


class BodyReader:
    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout

    async def read(self, request: Request) -> bytes:
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise HttpError(
                415, f"Content-Encoding {encoding} is not accepted; send the body as is"
            )
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise HttpError(400, f"Content-Length must be a number of bytes; got {declared}")
            if int(declared) > self.limit:
                raise self._too_large(int(declared))
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.timeout):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > self.limit:
                        raise self._too_large(size)
                    chunks.append(chunk)
        except ClientDisconnect:
            raise HttpError(
                499, "the client closed the connection before sending its body"
            ) from None
        except TimeoutError:
            raise HttpError(
                408,
                f"request body not received within {self.timeout:g} s "
                "(http_body_timeout); send it at once",
            ) from None
        return b"".join(chunks)

    async def json(self, request: Request) -> Any:
        """The body as JSON (empty: an empty object)."""
        check_json_type(request)
        return parse_json(await self.read(request))

    def _too_large(self, size: int) -> HttpError:
        return HttpError(
            413,
            f"request body of {size} bytes or more is over the limit of {self.limit} bytes "
            "(max_message_bytes); send fewer or smaller inputs",
        )


def check_json_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media not in JSON_TYPES and not media.endswith("+json"):
        raise HttpError(415, f"content type {media} is not accepted; send JSON (application/json)")


def parse_json(data: bytes) -> Any:
    if not data.strip():
        return {}
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HttpError(400, f"request body is not valid JSON: {exc}") from None


def json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HttpError(400, f"{what} must be a JSON object; got {type(value).__name__}")
    return value
