"""seqserve client: strings and integer lists in, typed results out, over gRPC.

    from seqserve.client import Client

    with Client("localhost:50051") as client:
        client.predict("addition", "3+10").text         # "13"
        client.predict("reverse", [1, 2, 3, 4, 5, 6]).ints  # (3, 2, 1)

`AsyncClient` is the same on asyncio. Errors are `SeqServeError` subclasses (see
`seqserve.client._errors` for the tree); the CLI is `seqserve` (`seqserve.client.cli`).

The names below load on first use, so that the CLI's entry (`seqserve.client.__main__`)
can configure gRPC before gRPC is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seqserve.client._aio import AsyncClient, AsyncSession
    from seqserve.client._channel import TLS
    from seqserve.client._client import Client, Session
    from seqserve.client._errors import (
        Cancelled,
        DeadlineExceeded,
        InternalError,
        InvalidInput,
        ModelNotFound,
        ModelNotReady,
        Overloaded,
        PermissionDenied,
        SeqServeError,
        SessionNotFound,
        Unauthenticated,
        Unavailable,
    )
    from seqserve.client._results import (
        Health,
        Model,
        ModelVersion,
        Prediction,
        Snapshot,
        Step,
        Symbol,
    )

_MODULES = ("_client", "_aio", "_channel", "_errors", "_results")  # where __all__'s names live


def __getattr__(name: str) -> Any:
    if name in __all__:
        for module in _MODULES:
            value = getattr(importlib.import_module(f"seqserve.client.{module}"), name, None)
            if value is not None:
                globals()[name] = value
                return value
    raise AttributeError(f"module 'seqserve.client' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "TLS",
    "AsyncClient",
    "AsyncSession",
    "Cancelled",
    "Client",
    "DeadlineExceeded",
    "Health",
    "InternalError",
    "InvalidInput",
    "Model",
    "ModelNotFound",
    "ModelNotReady",
    "ModelVersion",
    "Overloaded",
    "PermissionDenied",
    "Prediction",
    "SeqServeError",
    "Session",
    "SessionNotFound",
    "Snapshot",
    "Step",
    "Symbol",
    "Unauthenticated",
    "Unavailable",
]
