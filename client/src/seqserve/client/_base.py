"""`BaseClient`: everything `Client` and `AsyncClient` share that is not I/O.

The two clients differ only in how a call is made (blocking or awaited). The channel's
stub and health check, the default deadline and call metadata, the manifest cache that
checks input before sending, and what a `GetModel` or health answer means are here, once.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import grpc

from seqserve.client import _health
from seqserve.client._channel import call_metadata
from seqserve.client._errors import from_rpc_error
from seqserve.client._results import Health, Model
from seqserve.client._wire import checkable
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

C = TypeVar("C")  # grpc.Channel or grpc.aio.Channel


class BaseClient(Generic[C]):
    """The channel, its stub and health check, the default deadline, the call metadata and
    the manifests of ready models seen so far."""

    def __init__(self, target: str, channel: C, timeout: float | None, token: str | None) -> None:
        self.target = target
        self.timeout = timeout
        self._channel = channel
        self._stub: Any = pb_grpc.SeqServeStub(channel)  # type: ignore[no-untyped-call]
        self._check = _health.check_call(channel)
        self._metadata = call_metadata(token)
        self._manifests: dict[tuple[str, int], pb.ModelInfo] = {}  # ready models only

    def _deadline(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else timeout

    def _options(self, timeout: float | None) -> dict[str, Any]:
        """The keyword arguments of every call: its deadline and metadata."""
        return {"timeout": self._deadline(timeout), "metadata": self._metadata}

    def _cached(self, name: str, version: int) -> bool:
        return (name, version) in self._manifests

    def _manifest_of(self, name: str, version: int) -> pb.ModelInfo | None:
        """The manifest to check input with; None while the model is not ready (then the
        server says why)."""
        return self._manifests.get((name, version))

    def _learn(self, name: str, version: int, status: pb.ModelStatus) -> Model:
        """A `GetModel` answer as a `Model`; a ready model's manifest is kept."""
        if checkable(status):
            self._manifests[(name, version)] = status.info
        return Model.from_message(status)


def failed_health(error: grpc.RpcError) -> Health:
    """A failed health check: an unknown service is an answer, anything else an error."""
    if error.code() == grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
        return Health("SERVICE_UNKNOWN")
    raise from_rpc_error(error) from None
