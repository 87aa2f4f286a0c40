"""The seqserve.v1.SeqServe servicer: convert the request, call the core, convert back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from seqserve.server.api.status import streaming, unary
from seqserve.server.api.v1 import convert
from seqserve.server.core import InferenceCore, PredictAnswer
from seqserve.server.errors import InvalidInput
from seqserve.server.results import SymbolEvent
from seqserve.server.sessions import Session as LiveSession
from seqserve.server.validation import ValidPredict
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

Context: TypeAlias = grpc.aio.ServicerContext


class SeqServeServicer(pb_grpc.SeqServeServicer):  # type: ignore[misc]
    def __init__(self, core: InferenceCore) -> None:
        self._core = core

    def _validated(self, request: pb.PredictRequest, context: Context) -> ValidPredict:
        model = self._core.admit(request.model, request.version)
        return self._core.predict_request(model, request.inputs, context.time_remaining())

    @unary
    async def ListModels(
        self, request: pb.ListModelsRequest, context: Context
    ) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[convert.model_status(s) for s in self._core.states()])

    @unary
    async def GetModel(self, request: pb.GetModelRequest, context: Context) -> pb.ModelStatus:
        return convert.model_status(self._core.state(request.name, request.version))

    @unary
    async def Predict(self, request: pb.PredictRequest, context: Context) -> pb.PredictResponse:
        return convert.answer(await self._core.predict(self._validated(request, context)))

    @streaming
    async def PredictStream(
        self, request: pb.PredictRequest, context: Context
    ) -> AsyncIterator[pb.PredictStreamResponse]:
        events = self._core.stream(self._validated(request, context))
        try:
            async for event in events:
                if isinstance(event, PredictAnswer):
                    yield pb.PredictStreamResponse(result=convert.answer(event))
                elif isinstance(event, SymbolEvent):
                    yield convert.symbol(event)
        finally:
            await events.aclose()

    @streaming
    async def Session(
        self, requests: AsyncIterator[pb.SessionRequest], context: Context
    ) -> AsyncIterator[pb.SessionResponse]:
        """Open (or resume, or re-attach) first, then step/reset/snapshot until close.

        An error ends the stream with its status; the session itself stays open and can
        be re-attached by id: until it idles out if a snapshot was taken on this stream,
        else for a short grace (`session_detached_grace`).
        """
        session: LiveSession | None = None
        snapshotted = closed = False
        try:
            async for request in requests:
                action = request.WhichOneof("action")
                if action == "open":
                    session = self._open(request.open)
                    yield pb.SessionResponse(
                        opened=pb.SessionOpened(
                            session_id=session.id,
                            model=session.model.name,
                            version=session.model.version,
                        )
                    )
                    continue
                if session is None:
                    raise InvalidInput(f"send open first; got {action or 'an empty request'}")
                # evicted meanwhile: NOT_FOUND
                session = self._core.attach_session(session.id, new_stream=False)
                if action == "step":
                    yield convert.step(await self._core.step(session, request.step.symbol))
                elif action == "reset":
                    session.reset()
                    yield pb.SessionResponse(reset=pb.SessionReset())
                elif action == "snapshot":
                    snapshotted = True
                    yield convert.snapshot(session.snapshot())
                elif action == "close":
                    closed = True
                    self._core.close_session(session.id)
                    yield pb.SessionResponse(closed=pb.SessionClose())
                    return
                else:
                    raise InvalidInput(
                        "a session request needs one of open, step, reset, snapshot, close"
                    )
        finally:
            if session is not None and not closed and not snapshotted:
                self._core.detach_session(session.id)

    def _open(self, request: pb.SessionOpen) -> LiveSession:
        if request.session_id:
            return self._core.attach_session(request.session_id)
        model = self._core.admit(request.model, request.version)
        snapshot = convert.snapshot_from(request.state) if request.HasField("state") else None
        return self._core.open_session(model, snapshot)
