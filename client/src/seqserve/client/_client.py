"""`Client`: the blocking client. Request building and conversion live in `_wire`."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any, overload

import grpc

from seqserve.client import _results, _wire
from seqserve.client._base import BaseClient, failed_health
from seqserve.client._channel import MAX_CALLS_IN_FLIGHT, TLSOption, sync_channel
from seqserve.client._errors import SessionNotFound, translated
from seqserve.client._results import Health, Model, Prediction, Snapshot, Step, Symbol
from seqserve.v1 import seqserve_pb2 as pb

DEFAULT_TARGET = "localhost:50051"
DEFAULT_TIMEOUT = 30.0


class Client(BaseClient[grpc.Channel]):
    """A blocking seqserve client over one gRPC channel (thread-safe).

    `target`: `host:port`, several comma-separated (round robin over all), or a gRPC
    URI such as `dns:///seqserve-headless:50051`. `timeout`: the default deadline of
    each call, in seconds (sessions have none unless given). `tls`: None (plaintext),
    True (system roots), a CA file path, or a `TLS`. `token`: a bearer token.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        tls: TLSOption = None,
        token: str | None = None,
        wait_for_ready: bool = False,
    ) -> None:
        super().__init__(target, sync_channel(target, tls, wait_for_ready), timeout, token)
        self._in_flight = threading.BoundedSemaphore(MAX_CALLS_IN_FLIGHT)

    # -------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -------------------------------------------------------------- models

    def models(self, *, timeout: float | None = None) -> list[Model]:
        """Every model the server knows, ready or not."""
        with translated():
            response = self._stub.ListModels(pb.ListModelsRequest(), **self._options(timeout))
        return _wire.models(response)

    def info(self, name: str, *, version: int = 0, timeout: float | None = None) -> Model:
        """One model's manifest and state (`version` 0: the newest)."""
        with translated():
            status = self._stub.GetModel(
                pb.GetModelRequest(name=name, version=version),
                **self._options(timeout),
            )
        return self._learn(name, version, status)

    def _manifest(self, name: str, version: int, timeout: float | None) -> pb.ModelInfo | None:
        """`_manifest_of`, asking the server first when it is not cached."""
        if not self._cached(name, version):
            self.info(name, version=version, timeout=timeout)
        return self._manifest_of(name, version)

    # -------------------------------------------------------------- model control

    def load(
        self, name: str, *, version: int = 0, timeout: float | None = None
    ) -> list[_results.ModelVersion]:
        """Load (or reload) a model's versions, or one, on a server started with
        `--model-control explicit`; returns once they are loaded, with their states."""
        return self._control_call(self._control.Load, name, version, timeout)

    def unload(
        self, name: str, *, version: int = 0, timeout: float | None = None
    ) -> list[_results.ModelVersion]:
        """Unload a model's versions, or one; returns once their calls and sessions ended."""
        return self._control_call(self._control.Unload, name, version, timeout)

    def _control_call(
        self, method: Any, name: str, version: int, timeout: float | None
    ) -> list[_results.ModelVersion]:
        self._forget(name)
        with translated():
            response = method(
                pb.ModelControlRequest(model=name, version=version),
                **self._options(timeout),
            )
        return _wire.versions(response)

    def repository(self, *, timeout: float | None = None) -> list[_results.ModelVersion]:
        """Every version in the server's repository, loaded or not, with its state."""
        with translated():
            response = self._control.Index(pb.IndexRequest(), **self._options(timeout))
        return _wire.versions(response)

    # -------------------------------------------------------------- predict

    @overload
    def predict(  # type: ignore[overload-overlap]
        self, name: str, x: _wire.Item, *, version: int = 0, timeout: float | None = None
    ) -> Prediction: ...

    @overload
    def predict(
        self, name: str, x: _wire.Batch, *, version: int = 0, timeout: float | None = None
    ) -> list[Prediction]: ...

    def predict(
        self,
        name: str,
        x: _wire.Inputs,
        *,
        version: int = 0,
        timeout: float | None = None,
    ) -> Prediction | list[Prediction]:
        """Predict for one input (-> `Prediction`) or a batch (a list of inputs ->
        a list of `Prediction`, in order, in one call).

        An input is a string (text models), a list of ints, or a list of floats
        (scaled models). It is checked against the model's manifest first.
        """
        prepared = _wire.predict_request(self._manifest(name, version, timeout), name, x, version)
        with self._in_flight, translated():
            response = self._stub.Predict(prepared.request, **self._options(timeout))
        return _wire.shaped(
            _wire.predictions(response, len(prepared.request.inputs)), prepared.batch
        )

    def stream(
        self,
        name: str,
        x: _wire.Inputs,
        *,
        version: int = 0,
        timeout: float | None = None,
    ) -> Iterator[Symbol | Prediction | list[Prediction]]:
        """Yield each decoded `Symbol` as the server produces it (seq2seq models), then
        the final result: a `Prediction`, or a list of them for a batch."""
        prepared = _wire.predict_request(self._manifest(name, version, timeout), name, x, version)
        return self._events(prepared, self._deadline(timeout))

    def _events(
        self, prepared: _wire.Prepared, timeout: float | None
    ) -> Iterator[Symbol | Prediction | list[Prediction]]:
        with self._in_flight, translated():
            call = self._stub.PredictStream(
                prepared.request, timeout=timeout, metadata=self._metadata
            )
            try:
                for message in call:
                    yield _wire.stream_event(message, prepared)
            finally:
                call.cancel()

    # -------------------------------------------------------------- sessions

    def session(
        self,
        name: str,
        *,
        version: int = 0,
        snapshot: Snapshot | None = None,
        session_id: str | None = None,
        timeout: float | None = None,
    ) -> Session:
        """A stateful session (a context manager); resume from `snapshot` if given."""
        info = self._manifest(name, version, None)
        return Session(
            self._stub,
            info,
            _wire.session_open(name, version, snapshot, session_id),
            self._metadata,
            timeout,
        )

    # -------------------------------------------------------------- health

    def health(self, service: str = "", *, timeout: float | None = None) -> Health:
        """The standard gRPC health status (`service` "" is the whole server)."""
        try:
            status = self._check(service, **self._options(timeout))
        except grpc.RpcError as exc:
            return failed_health(exc)
        return Health(status)


class Session:
    """A stateful session on one server, over one bidirectional stream.

    Use as a context manager (or call `open()` and `close()`); `step(symbol)` returns
    the predicted next symbol, `reset()` zeroes the state, `snapshot()` returns the
    state to resume from later with `client.session(name, snapshot=...)`. When a call
    fails, the server ends the stream but keeps the session; the next call re-attaches
    to it by id.
    """

    def __init__(
        self,
        stub: Any,
        info: pb.ModelInfo | None,
        opening: pb.SessionRequest,
        metadata: tuple[tuple[str, str], ...],
        timeout: float | None,
    ) -> None:
        self._stub = stub
        self._info = info
        self._opening = opening
        self._metadata = metadata
        self._timeout = timeout
        self._requests: queue.SimpleQueue[pb.SessionRequest | None] = queue.SimpleQueue()
        self._call: Any = None
        self.id = ""
        self.model = ""
        self.version = 0

    @staticmethod
    def _outgoing(
        requests: queue.SimpleQueue[pb.SessionRequest | None],
    ) -> Iterator[pb.SessionRequest]:
        while (request := requests.get()) is not None:
            yield request

    def _exchange(self, request: pb.SessionRequest) -> pb.SessionResponse | None:
        if self._call is None:
            self.open()
        self._requests.put(request)
        try:
            with translated():
                return next(self._call, None)  # type: ignore[no-any-return]
        except BaseException:
            self._abort()
            raise

    def open(self) -> Session:
        """Open the session (or re-attach to it after a failed call)."""
        if self._call is not None:
            return self
        self._requests = queue.SimpleQueue()
        self._call = self._stub.Session(
            self._outgoing(self._requests), timeout=self._timeout, metadata=self._metadata
        )
        self._requests.put(self._opening)
        try:
            with translated():
                opened = _wire.opened(next(self._call, None))
        except BaseException:
            self._abort()
            raise
        self.id, self.model, self.version = opened.session_id, opened.model, opened.version
        self._opening = _wire.session_attach(self.id)
        return self

    def step(self, symbol: int) -> Step:
        """Feed one symbol; the answer holds the predicted next symbol."""
        request = _wire.session_step(self._info, symbol)
        return _wire.step(self._exchange(request))

    def reset(self) -> None:
        """Zero the recurrent state."""
        _wire.session_reply(self._exchange(_wire.RESET), "reset")

    def snapshot(self) -> Snapshot:
        """The current state, to resume from later (on any server)."""
        return _wire.snapshot(self._exchange(_wire.SNAPSHOT))

    def close(self) -> None:
        """Close the session on the server and end the stream (a gone session is fine)."""
        if self._call is None and not self.id:
            return
        try:
            _wire.session_reply(self._exchange(_wire.CLOSE), "closed")
        except SessionNotFound:
            pass  # closed elsewhere or evicted: gone, as asked
        finally:
            self._abort()
            self.id = ""

    def _abort(self) -> None:
        self._requests.put(None)
        if self._call is not None:
            self._call.cancel()
        self._call = None

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self._abort()
