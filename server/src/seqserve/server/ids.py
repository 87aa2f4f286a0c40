"""Identifiers a caller sends: their maximum lengths, and how they are shown back.

| identifier | at most |
|---|---|
| model name | `MAX_MODEL_NAME` characters |
| version (KServe `model_version`) | `MAX_VERSION_DIGITS` ASCII digits |
| request id (`x-request-id`, KServe `id`) | `MAX_REQUEST_ID` characters |
| sequence id (KServe `sequence_id` string) | `MAX_SEQUENCE_ID` characters |
| session id | `MAX_SESSION_ID` characters |

A longer one is refused (`InvalidInput`) before it is looked up or kept; wherever one is
echoed (status messages, logs) it is cut to `SHOWN` characters, so a caller cannot make
the server write more than a few hundred bytes on its behalf.
"""

from __future__ import annotations

from seqserve.server.errors import SHOWN, InvalidInput, shown

__all__ = ["SHOWN", "check", "shown"]

MAX_MODEL_NAME = 256
MAX_VERSION_DIGITS = 10
MAX_REQUEST_ID = 128
MAX_SEQUENCE_ID = 128
MAX_SESSION_ID = 64


def check(what: str, value: str, limit: int) -> str:
    """`value` when at most `limit` characters long, else `InvalidInput`."""
    if len(value) > limit:
        raise InvalidInput(
            f"{what} {shown(value)!r} has {len(value)} characters; at most {limit} are allowed"
        )
    return value
