"""Domain errors of the server core. Protocol front-ends map them to status codes in one table.

```
SeqServeError
├── ModelNotFound        unknown model name
├── VersionNotFound      the model exists but not that version
├── SessionNotFound      unknown, closed or evicted session
├── InvalidInput         wrong kind, length, symbol, text; empty or oversized batch
├── ModelNotReady        the model failed its checks (the reason is in the message)
├── WrongApi             the model is served on another API (a tensor model on seqserve.v1)
├── Overloaded           a queue or bound is full; retry later
├── DeadlineExceeded     the call's deadline passed before its answer was ready
├── ShuttingDown         the server is draining
└── Starting             models are still loading
```

The messages are written for the caller: they say what was wrong and what is allowed.
They never carry internals (tracebacks, onnxruntime messages).
"""

from __future__ import annotations

SHOWN = 64  # characters of a caller's identifier echoed in a message or log line


def shown(value: str, limit: int = SHOWN) -> str:
    """A caller's identifier as echoed: cut to `limit` characters (an ellipsis marks it)."""
    return value if len(value) <= limit else value[: limit - 3] + "..."


class StartupError(RuntimeError):
    """The server cannot start as configured (e.g. the device); reported once, then exit."""


class SeqServeError(Exception):
    """Base of every error the server reports to a caller with its own message."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class ModelNotFound(SeqServeError):
    def __init__(self, name: str, available: list[str]) -> None:
        known = ", ".join(available) or "none"
        super().__init__(f"model {shown(name)!r} not found; models: {known}")


class VersionNotFound(SeqServeError):
    def __init__(self, name: str, version: int, available: list[int]) -> None:
        known = ", ".join(map(str, available)) or "none"
        super().__init__(f"model {shown(name)!r} has no version {version}; versions: {known}")


class SessionNotFound(SeqServeError):
    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"session {shown(session_id)!r} not found (unknown, closed or evicted after idling); "
            "open a new one or resume from a snapshot"
        )


class InvalidInput(SeqServeError):
    """Bad input; the message names what the model accepts."""


class ModelNotReady(SeqServeError):
    def __init__(self, name: str, version: int, reason: str) -> None:
        super().__init__(f"model {name!r} version {version} is not ready: {reason}")


class WrongApi(SeqServeError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"model {name!r} is a tensor model: it takes and returns named tensors, which "
            "seqserve.v1 cannot carry; call it with the KServe v2 API "
            "(inference.GRPCInferenceService/ModelInfer, e.g. tritonclient) on this port"
        )


class Overloaded(SeqServeError):
    """A bounded queue or set is full."""


class DeadlineExceeded(SeqServeError):
    def __init__(self) -> None:
        super().__init__("deadline exceeded before the answer was ready")


class ShuttingDown(SeqServeError):
    def __init__(self) -> None:
        super().__init__("server is shutting down; retry on another replica")


class Starting(SeqServeError):
    def __init__(self) -> None:
        super().__init__("server is starting (models loading); retry shortly")
