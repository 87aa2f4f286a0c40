"""The inference.GRPCInferenceService servicer: translate, call the core, translate back.

Requests go through the same validation (`seqserve.server.validation`, hence the shared
codecs), batchers, decode scheduler and session store as seqserve.v1; errors map through
the same table (`seqserve.server.grpc.status`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc
from seqserve.server import __version__, validation
from seqserve.server.core import InferenceCore, PredictAnswer
from seqserve.server.engines import ItemResult, SymbolEvent
from seqserve.server.errors import ModelNotFound, SeqServeError, Starting, VersionNotFound
from seqserve.server.grpc.kserve import describe, inputs, outputs
from seqserve.server.grpc.kserve import tensors as t
from seqserve.server.grpc.kserve.messages import pb as kpb
from seqserve.server.grpc.kserve.sequences import Sequences
from seqserve.server.grpc.kserve.stats import Statistics
from seqserve.server.grpc.status import streaming, unary
from seqserve.server.repository import ModelVersion
from seqserve.v1 import seqserve_pb2 as pb

log = logging.getLogger(__name__)
Context: TypeAlias = grpc.aio.ServicerContext
FINAL = "triton_final_response"


class KServeServicer:
    def __init__(self, core: InferenceCore) -> None:
        self._core = core
        self._sequences = Sequences(core)
        self.statistics = Statistics()

    # ------------------------------------------------------------ health and metadata

    @unary
    async def ServerLive(
        self, request: kpb.ServerLiveRequest, context: Context
    ) -> kpb.ServerLiveResponse:
        return kpb.ServerLiveResponse(live=True)

    @unary
    async def ServerReady(
        self, request: kpb.ServerReadyRequest, context: Context
    ) -> kpb.ServerReadyResponse:
        return kpb.ServerReadyResponse(ready=self._core.loaded and not self._core.draining)

    @unary
    async def ModelReady(
        self, request: kpb.ModelReadyRequest, context: Context
    ) -> kpb.ModelReadyResponse:
        """Not ready (rather than an error) for an unknown model or version, as Triton does."""
        version = describe.version_number(request.version)
        try:
            state = self._core.state(request.name, version)
        except (ModelNotFound, VersionNotFound):
            return kpb.ModelReadyResponse(ready=False)
        return kpb.ModelReadyResponse(ready=self._core.loaded and state.ready)

    @unary
    async def ServerMetadata(
        self, request: kpb.ServerMetadataRequest, context: Context
    ) -> kpb.ServerMetadataResponse:
        return kpb.ServerMetadataResponse(
            name="seqserve", version=__version__, extensions=describe.EXTENSIONS
        )

    @unary
    async def ModelMetadata(
        self, request: kpb.ModelMetadataRequest, context: Context
    ) -> kpb.ModelMetadataResponse:
        state = self._core.state(request.name, describe.version_number(request.version))
        return describe.model_metadata(state)

    @unary
    async def ModelConfig(
        self, request: kpb.ModelConfigRequest, context: Context
    ) -> kpb.ModelConfigResponse:
        state = self._core.state(request.name, describe.version_number(request.version))
        return kpb.ModelConfigResponse(config=describe.model_config(state, self._core.settings))

    @unary
    async def RepositoryIndex(
        self, request: kpb.RepositoryIndexRequest, context: Context
    ) -> kpb.RepositoryIndexResponse:
        return describe.repository_index(self._core.states(), request.ready)

    @unary
    async def ModelStatistics(
        self, request: kpb.ModelStatisticsRequest, context: Context
    ) -> kpb.ModelStatisticsResponse:
        if request.name:
            states = [self._core.state(request.name, describe.version_number(request.version))]
        else:
            states = self._core.states()
        response = kpb.ModelStatisticsResponse()
        for state in states:
            version = describe.version_number(request.version)
            versions = [version] if version else state.versions
            for version in versions:
                response.model_stats.append(self.statistics.model(state.info.name, version))
        return response

    # ------------------------------------------------------------ inference

    @unary
    async def ModelInfer(
        self, request: kpb.ModelInferRequest, context: Context
    ) -> kpb.ModelInferResponse:
        responses = [r async for r in self._infer(request, context, stream=False)]
        return responses[-1]

    @streaming
    async def ModelStreamInfer(
        self, requests: AsyncIterator[kpb.ModelInferRequest], context: Context
    ) -> AsyncIterator[kpb.ModelStreamInferResponse]:
        """Requests are answered in order; a failed request gets `error_message`, the stream
        goes on. seq2seq models send each decoded symbol, then the complete response."""
        async for request in requests:
            try:
                async for response in self._infer(request, context, stream=True):
                    yield kpb.ModelStreamInferResponse(infer_response=response)
            except SeqServeError as exc:
                yield kpb.ModelStreamInferResponse(error_message=exc.message)
            except Exception as exc:  # a bug: log it, never send internals
                request_id = uuid.uuid4().hex[:12]
                log.error("stream request %s failed", request_id, exc_info=exc)
                message = f"internal error (request id {request_id})"
                yield kpb.ModelStreamInferResponse(error_message=message)

    async def _infer(
        self, request: kpb.ModelInferRequest, context: Context, stream: bool
    ) -> AsyncIterator[kpb.ModelInferResponse]:
        model = self._model(request)
        started = time.perf_counter_ns()
        ok, results = False, list[ItemResult]()
        try:
            specs, typed = outputs.requested(model.info, request)
            if t.is_stateful(model.info):
                results = [await self._sequences.step(model, request)]
            else:
                valid = self._validated(model, request, context)
                if stream and t.streams_symbols(model.info):
                    async for event in self._core.stream(valid):
                        if isinstance(event, SymbolEvent):
                            yield self._symbol(request, model, specs, typed, event)
                        elif isinstance(event, PredictAnswer):
                            results = event.results
                else:
                    results = (await self._core.predict(valid)).results
            ok = True
            yield self._answer(request, model, specs, typed, results, stream)
        finally:
            elapsed = time.perf_counter_ns() - started
            self.statistics.record(model.name, model.version, len(results), ok, elapsed)

    def _model(self, request: kpb.ModelInferRequest) -> ModelVersion:
        if not self._core.loaded:
            raise Starting()
        version = describe.version_number(request.model_version)
        return self._core.resolve(request.model_name, version)

    def _validated(
        self, model: ModelVersion, request: kpb.ModelInferRequest, context: Context
    ) -> validation.ValidPredict:
        items = inputs.read_items(model.info, request)
        deadline = self._core.deadline(context.time_remaining())
        return validation.predict_from_values(
            model, items, self._core.settings.max_batch_items, deadline
        )

    def _answer(
        self,
        request: kpb.ModelInferRequest,
        model: ModelVersion,
        specs: tuple[t.TensorSpec, ...],
        typed: bool,
        results: list[ItemResult],
        stream: bool,
    ) -> kpb.ModelInferResponse:
        response = _response(request, model)
        outputs.write(response, specs, results, typed)
        if stream:
            response.parameters[FINAL].bool_param = True
        return response

    def _symbol(
        self,
        request: kpb.ModelInferRequest,
        model: ModelVersion,
        specs: tuple[t.TensorSpec, ...],
        typed: bool,
        event: SymbolEvent,
    ) -> kpb.ModelInferResponse:
        response = _response(request, model)
        text = model.info.output.kind == pb.DATA_KIND_TEXT
        outputs.write_symbol(response, specs, event, text, typed)
        response.parameters[FINAL].bool_param = False
        return response


def _response(request: kpb.ModelInferRequest, model: ModelVersion) -> kpb.ModelInferResponse:
    return kpb.ModelInferResponse(
        model_name=model.name, model_version=str(model.version), id=request.id
    )
