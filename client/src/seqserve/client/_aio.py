"""`AsyncClient`: the asyncio client on `grpc.aio`, mirroring `Client` method for method.

Request building and conversion live in `_wire`, shared with the blocking client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, overload

import grpc
import grpc.aio

from seqserve.client import _results, _wire
from seqserve.client._base import BaseClient, failed_health
from seqserve.client._channel import MAX_CALLS_IN_FLIGHT, TLSOption, aio_channel
from seqserve.client._client import DEFAULT_TARGET, DEFAULT_TIMEOUT
from seqserve.client._errors import SessionNotFound, translated
from seqserve.client._results import Health, Model, Prediction, Snapshot, Step, Symbol
from seqserve.v1 import seqserve_pb2 as pb


class AsyncClient(BaseClient[grpc.aio.Channel]):
    """The asyncio twin of `Client` (same arguments, same methods, awaited).

    Use `async with AsyncClient(...) as client:`; `stream()` is an async iterator and
    `session()` an async context manager. Create it inside the running event loop.
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
        super().__init__(target, aio_channel(target, tls, wait_for_ready), timeout, token)
        self._in_flight = asyncio.Semaphore(MAX_CALLS_IN_FLIGHT)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def models(self, *, timeout: float | None = None) -> list[Model]:
        """Every model the server knows, ready or not."""
        with translated():
            response = await self._stub.ListModels(pb.ListModelsRequest(), **self._options(timeout))
        return _wire.models(response)

    async def info(self, name: str, *, version: int = 0, timeout: float | None = None) -> Model:
        """One model's manifest and state (`version` 0: the newest)."""
        with translated():
            status = await self._stub.GetModel(
                pb.GetModelRequest(name=name, version=version),
                **self._options(timeout),
            )
        return self._learn(name, version, status)

    async def _manifest(
        self, name: str, version: int, timeout: float | None
    ) -> pb.ModelInfo | None:
        """`_manifest_of`, asking the server first when it is not cached."""
        if not self._cached(name, version):
            await self.info(name, version=version, timeout=timeout)
        return self._manifest_of(name, version)

    # -------------------------------------------------------------- model control

    async def load(
        self, name: str, *, version: int = 0, timeout: float | None = None
    ) -> list[_results.ModelVersion]:
        """Load (or reload) a model's versions, or one, on a server started with
        `--model-control explicit`; returns once they are loaded, with their states."""
        return await self._control_call(self._control.Load, name, version, timeout)

    async def unload(
        self, name: str, *, version: int = 0, timeout: float | None = None
    ) -> list[_results.ModelVersion]:
        """Unload a model's versions, or one; returns once their calls and sessions ended."""
        return await self._control_call(self._control.Unload, name, version, timeout)

    async def _control_call(
        self, method: Any, name: str, version: int, timeout: float | None
    ) -> list[_results.ModelVersion]:
        self._forget(name)
        with translated():
            response = await method(
                pb.ModelControlRequest(model=name, version=version),
                **self._options(timeout),
            )
        return _wire.versions(response)

    async def repository(self, *, timeout: float | None = None) -> list[_results.ModelVersion]:
        """Every version in the server's repository, loaded or not, with its state."""
        with translated():
            response = await self._control.Index(pb.IndexRequest(), **self._options(timeout))
        return _wire.versions(response)

    @overload
    async def predict(  # type: ignore[overload-overlap]
        self, name: str, x: _wire.Item, *, version: int = 0, timeout: float | None = None
    ) -> Prediction: ...

    @overload
    async def predict(
        self, name: str, x: _wire.Batch, *, version: int = 0, timeout: float | None = None
    ) -> list[Prediction]: ...

    async def predict(
        self, name: str, x: _wire.Inputs, *, version: int = 0, timeout: float | None = None
    ) -> Prediction | list[Prediction]:
        """As `Client.predict`: one input -> a `Prediction`, a batch -> a list."""
        info = await self._manifest(name, version, timeout)
        prepared = _wire.predict_request(info, name, x, version)
        async with self._in_flight:
            with translated():
                response = await self._stub.Predict(prepared.request, **self._options(timeout))
        return _wire.shaped(
            _wire.predictions(response, len(prepared.request.inputs)), prepared.batch
        )

    async def stream(
        self, name: str, x: _wire.Inputs, *, version: int = 0, timeout: float | None = None
    ) -> AsyncIterator[Symbol | Prediction | list[Prediction]]:
        """As `Client.stream`, an async iterator: `Symbol`s, then the final result."""
        info = await self._manifest(name, version, timeout)
        prepared = _wire.predict_request(info, name, x, version)
        async with self._in_flight:
            call = self._stub.PredictStream(prepared.request, **self._options(timeout))
            try:
                with translated():
                    async for message in call:
                        yield _wire.stream_event(message, prepared)
            finally:
                call.cancel()

    def session(
        self,
        name: str,
        *,
        version: int = 0,
        snapshot: Snapshot | None = None,
        session_id: str | None = None,
        timeout: float | None = None,
    ) -> AsyncSession:
        """A stateful session: `async with client.session("recall") as s: await s.step(1)`."""
        return AsyncSession(
            self, name, version, _wire.session_open(name, version, snapshot, session_id), timeout
        )

    async def health(self, service: str = "", *, timeout: float | None = None) -> Health:
        """The standard gRPC health status (`service` "" is the whole server)."""
        try:
            status = await self._check(service, **self._options(timeout))
        except grpc.RpcError as exc:
            return failed_health(exc)
        return Health(str(status))


class AsyncSession:
    """The asyncio twin of `Session`: `await step(symbol)`, `reset()`, `snapshot()`."""

    def __init__(
        self,
        client: AsyncClient,
        name: str,
        version: int,
        opening: pb.SessionRequest,
        timeout: float | None,
    ) -> None:
        self._client = client
        self._name = name
        self._opening = opening
        self._timeout = timeout
        self._info: pb.ModelInfo | None = None
        self._opened = False
        self._call: Any = None
        self.id = ""
        self.model = ""
        self.version = version

    async def _send(self, request: pb.SessionRequest) -> pb.SessionResponse | None:
        try:
            with translated():
                await self._call.write(request)
                message = await self._call.read()
        except BaseException:
            self._abort()
            raise
        return None if message is grpc.aio.EOF else message  # type: ignore[no-any-return]

    async def _exchange(self, request: pb.SessionRequest) -> pb.SessionResponse | None:
        if self._call is None:
            await self.open()
        return await self._send(request)

    async def open(self) -> AsyncSession:
        """Open the session (or re-attach to it after a failed call)."""
        if self._call is not None:
            return self
        if not self._opened:
            self._info = await self._client._manifest(self._name, self.version, None)
        self._call = self._client._stub.Session(
            timeout=self._timeout, metadata=self._client._metadata
        )
        opened = _wire.opened(await self._send(self._opening))
        self.id, self.model, self.version = opened.session_id, opened.model, opened.version
        self._opening = _wire.session_attach(self.id)
        self._opened = True
        return self

    async def step(self, symbol: int) -> Step:
        """Feed one symbol; the answer holds the predicted next symbol."""
        if not self._opened:
            await self.open()
        return _wire.step(await self._exchange(_wire.session_step(self._info, symbol)))

    async def reset(self) -> None:
        """Zero the recurrent state."""
        _wire.session_reply(await self._exchange(_wire.RESET), "reset")

    async def snapshot(self) -> Snapshot:
        """The current state, to resume from later (on any server)."""
        return _wire.snapshot(await self._exchange(_wire.SNAPSHOT))

    async def close(self) -> None:
        """Close the session on the server and end the stream (a gone session is fine)."""
        if self._call is None and not self.id:
            return
        try:
            _wire.session_reply(await self._exchange(_wire.CLOSE), "closed")
        except SessionNotFound:
            pass  # closed elsewhere or evicted: gone, as asked
        finally:
            self._abort()
            self.id = ""

    def _abort(self) -> None:
        if self._call is not None:
            self._call.cancel()
        self._call = None

    async def __aenter__(self) -> AsyncSession:
        return await self.open()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            await self.close()
        else:
            self._abort()
