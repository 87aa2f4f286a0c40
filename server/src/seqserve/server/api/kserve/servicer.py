"""The inference.GRPCInferenceService servicer: translate, call the core, translate back.

Requests go through the same validation (`seqserve.server.validation`, hence the shared
codecs), batchers, decode scheduler and session store as seqserve.v1; errors map through
the same table (`seqserve.server.api.status`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from seqserve.server import __version__, ids
from seqserve.server.api.kserve import describe, sequences, streams
from seqserve.server.api.kserve.infer import Inference
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.api.observe import current_request_id
from seqserve.server.api.status import streaming, unary
from seqserve.server.core import InferenceCore
from seqserve.server.errors import ModelNotFound, SeqServeError, VersionNotFound
from seqserve.server.repository.control import ModelControl

log = logging.getLogger(__name__)
Context: TypeAlias = grpc.aio.ServicerContext


class KServeServicer:
    def __init__(
        self, core: InferenceCore, control: ModelControl, inference: Inference | None = None
    ) -> None:
        self._core = core
        self._control = control
        self._inference = inference or Inference(core)
        self.statistics = self._inference.statistics

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
        return kpb.ServerReadyResponse(ready=self._core.ready)

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
        return describe.repository_index(await self._control.index(), request.ready)

    @unary
    async def RepositoryModelLoad(
        self, request: kpb.RepositoryModelLoadRequest, context: Context
    ) -> kpb.RepositoryModelLoadResponse:
        describe.no_overrides(request.parameters, allowed=())
        await self._control.load(request.model_name)
        return kpb.RepositoryModelLoadResponse()

    @unary
    async def RepositoryModelUnload(
        self, request: kpb.RepositoryModelUnloadRequest, context: Context
    ) -> kpb.RepositoryModelUnloadResponse:
        describe.no_overrides(request.parameters, allowed=("unload_dependents",))
        await self._control.unload(request.model_name)
        return kpb.RepositoryModelUnloadResponse()

    @unary
    async def ModelStatistics(
        self, request: kpb.ModelStatisticsRequest, context: Context
    ) -> kpb.ModelStatisticsResponse:
        version = describe.version_number(request.version)
        states = [self._core.state(request.name, version)] if request.name else self._core.states()
        return self.statistics.report(states, version, self._core.totals)

    # ------------------------------------------------------------ inference

    @unary
    async def ModelInfer(
        self, request: kpb.ModelInferRequest, context: Context
    ) -> kpb.ModelInferResponse:
        return await self._inference.infer(request, context.time_remaining())

    @streaming
    async def ModelStreamInfer(
        self, requests: AsyncIterator[kpb.ModelInferRequest], context: Context
    ) -> AsyncIterator[kpb.ModelStreamInferResponse]:
        """Requests are answered concurrently (match responses by `id`); steps of stateful
        sequences in order. A failed request gets `error_message` and the stream goes on.
        One response per request; a seq2seq request with the `stream_symbols` parameter
        true gets each decoded symbol first, then the complete response."""

        def in_order(request: kpb.ModelInferRequest) -> bool:
            return sequences.SEQUENCE_ID in request.parameters

        async def handle(
            request: kpb.ModelInferRequest,
        ) -> AsyncIterator[kpb.ModelStreamInferResponse]:
            try:
                async for response in self._inference.stream(request, context.time_remaining()):
                    yield kpb.ModelStreamInferResponse(infer_response=response)
            except SeqServeError as exc:
                yield _stream_error(request, exc.message)
            except Exception as exc:  # a bug: log it, never send internals
                request_id = current_request_id() or uuid.uuid4().hex[:12]
                log.error("stream request %s failed", request_id, exc_info=exc)
                yield _stream_error(request, f"internal error (request id {request_id})")

        async for response in streams.concurrently(requests, handle, in_order):
            yield response


def _stream_error(request: kpb.ModelInferRequest, message: str) -> kpb.ModelStreamInferResponse:
    """A failed stream request: the message, and the request's model and id to match it by
    (each cut to its maximum length: the answer is never bigger than the limits allow)."""
    return kpb.ModelStreamInferResponse(
        error_message=message,
        infer_response=kpb.ModelInferResponse(
            model_name=request.model_name[: ids.MAX_MODEL_NAME],
            model_version=request.model_version[: ids.MAX_VERSION_DIGITS],
            id=request.id[: ids.MAX_REQUEST_ID],
        ),
    )
