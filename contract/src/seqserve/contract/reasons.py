"""Why a call failed, in a form a program reads: the `seqserve-reason` trailing metadata.

A status code alone can be ambiguous (NOT_FOUND: a model, a version or a session), and a
message is for people. The server sends one of these reasons beside every domain error's
status, from its error table; the client chooses its exception by it, never by the text.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

KEY = "seqserve-reason"


class Reason(StrEnum):
    MODEL_NOT_FOUND = "model-not-found"
    VERSION_NOT_FOUND = "version-not-found"
    SESSION_NOT_FOUND = "session-not-found"
    INVALID_INPUT = "invalid-input"
    MODEL_NOT_READY = "model-not-ready"
    WRONG_API = "wrong-api"  # a tensor model called on seqserve.v1: use the KServe v2 API
    OVERLOADED = "overloaded"
    DEADLINE_EXCEEDED = "deadline-exceeded"
    SHUTTING_DOWN = "shutting-down"
    STARTING = "starting"


def reason_in(metadata: Iterable[tuple[str, str | bytes]] | None) -> Reason | None:
    """The reason among a call's trailing metadata (`(key, value)` pairs), if one is known."""
    for key, value in metadata or ():
        if key == KEY and isinstance(value, str):
            try:
                return Reason(value)
            except ValueError:
                return None
    return None
