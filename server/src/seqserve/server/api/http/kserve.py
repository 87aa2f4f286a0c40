"""KServe v2 REST as Triton serves it: health, metadata, config, statistics, repository
index, infer (JSON and binary tensors, sequences) and the generate extension (SSE for
seq2seq symbols as they are decoded).

Each route converts its body (`tensors`), calls the same `Inference` and core as the gRPC
`inference.GRPCInferenceService`, and converts back. Metrics name each route by the gRPC
method it stands for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from seqserve.server import __version__
from seqserve.server.api.http import sse
from seqserve.server.api.http import tensors as ht
from seqserve.server.api.http.body import BodyReader, check_json_type, json_object
from seqserve.server.api.http.observe import name_call
from seqserve.server.api.http.plain import plain
from seqserve.server.api.http.timeout import time_remaining
from seqserve.server.api.kserve import describe
from seqserve.server.api.kserve.infer import Inference
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.core import InferenceCore
from seqserve.server.errors import ModelNotFound, VersionNotFound

OCTET_STREAM = "application/octet-stream"


class KServeRoutes:
    def __init__(self, core: InferenceCore, inference: Inference, body: BodyReader) -> None:
        self._core = core
        self._inference = inference
        self._body = body

    def routes(self) -> list[Route]:
        model = "/v2/models/{model}"
        versioned = "/v2/models/{model}/versions/{version}"
        out = [
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
            Route("/v2", self.server_metadata, methods=["GET"]),
            Route("/v2/models/stats", self.statistics, methods=["GET"]),
            Route("/v2/repository/index", self.repository_index, methods=["POST"]),
        ]
        for base in (versioned, model):
            out += [
                Route(base, self.model_metadata, methods=["GET"]),
                Route(f"{base}/ready", self.model_ready, methods=["GET"]),
                Route(f"{base}/config", self.model_config, methods=["GET"]),
                Route(f"{base}/stats", self.statistics, methods=["GET"]),
                Route(f"{base}/infer", self.infer, methods=["POST"]),
                Route(f"{base}/generate", self.generate, methods=["POST"]),
                Route(f"{base}/generate_stream", self.generate_stream, methods=["POST"]),
            ]
        return out

    # ------------------------------------------------------------ health and metadata

    async def live(self, request: Request) -> Response:
        name_call("ServerLive")
        return JSONResponse({"live": True})

    async def ready(self, request: Request) -> Response:
        """200 once every model is loaded and until draining starts (as gRPC health)."""
        name_call("ServerReady")
        ready = self._core.ready
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def server_metadata(self, request: Request) -> Response:
        name_call("ServerMetadata")
        return JSONResponse(
            {
                "name": "seqserve",
                "version": __version__,
                "extensions": [*describe.EXTENSIONS, "generate"],
            }
        )

    async def model_ready(self, request: Request) -> Response:
        """200 when ready; 400 for a model or version not ready or not served (Triton's)."""
        name, version = _model(request, "ModelReady")
        try:
            ready = self._core.loaded and self._core.state(name, version).ready
        except (ModelNotFound, VersionNotFound):
            ready = False
        return JSONResponse({"name": name, "ready": ready}, status_code=200 if ready else 400)

    async def model_metadata(self, request: Request) -> Response:
        name, version = _model(request, "ModelMetadata")
        return JSONResponse(plain(describe.model_metadata(self._core.state(name, version))))

    async def model_config(self, request: Request) -> Response:
        name, version = _model(request, "ModelConfig")
        state = self._core.state(name, version)
        return JSONResponse(plain(describe.model_config(state, self._core.settings)))

    async def repository_index(self, request: Request) -> Response:
        name_call("RepositoryIndex")
        body = json_object(await self._body.json(request), "the index request")
        rows = await self._core.repository.index()
        index = describe.repository_index(rows, bool(body.get("ready", False)))
        return JSONResponse([plain(entry) for entry in index.models])

    async def statistics(self, request: Request) -> Response:
        name, version = _model(request, "ModelStatistics")
        states = [self._core.state(name, version)] if name else self._core.states()
        report = self._inference.statistics.report(states, version, self._core.totals)
        return JSONResponse(plain(report))

    # ------------------------------------------------------------ inference

    async def infer(self, request: Request) -> Response:
        name, _ = _model(request, "ModelInfer")
        check_json_type(request)
        body = await self._body.read(request)
        header_length = request.headers.get(ht.HEADER_LENGTH)
        infer = ht.infer_request(body, header_length, name, request.path_params.get("version", ""))
        response = await self._one(infer.message, request)
        content, json_length = ht.infer_response(response, infer)
        if json_length is None:
            return Response(content, media_type="application/json")
        headers = {ht.HEADER_LENGTH: str(json_length)}
        return Response(content, media_type=OCTET_STREAM, headers=headers)

    async def generate(self, request: Request) -> Response:
        message = await self._generate_request(request, "ModelGenerate")
        response = await self._one(message, request)
        return JSONResponse(ht.generate_response(response))

    async def generate_stream(self, request: Request) -> Response:
        """Server-sent events: one per decoded symbol (seq2seq), then the whole answer."""
        message = await self._generate_request(request, "ModelGenerateStream")
        events = self._inference.stream(message, time_remaining(request), symbols=True)
        return await sse.respond(_generated(events))

    async def _one(
        self, message: kpb.ModelInferRequest, request: Request
    ) -> kpb.ModelInferResponse:
        """The one response to a request, within its `Grpc-Timeout` (or the default)."""
        return await self._inference.infer(message, time_remaining(request))

    async def _generate_request(self, request: Request, method: str) -> kpb.ModelInferRequest:
        name, version = _model(request, method)
        info = self._core.state(name, version).info
        body = await self._body.json(request)
        return ht.generate_request(info, body, request.path_params.get("version", ""))


def _model(request: Request, method: str) -> tuple[str, int]:
    """The route's model and version (0: newest), naming the call for metrics."""
    name = str(request.path_params.get("model", ""))
    name_call(method, name)
    return name, describe.version_number(str(request.path_params.get("version", "")))


async def _generated(
    responses: AsyncIterator[kpb.ModelInferResponse],
) -> AsyncIterator[dict[str, Any]]:
    try:
        async for response in responses:
            yield ht.generate_response(response)
    finally:
        await responses.aclose()  # type: ignore[attr-defined]
