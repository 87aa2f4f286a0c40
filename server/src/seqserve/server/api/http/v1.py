"""seqserve.v1 over JSON, as Google API HTTP transcoding maps the service (the mapping is
written beside each rpc in proto/seqserve/v1/seqserve.proto):

| rpc | route | body / answer |
|---|---|---|
| ListModels | `GET /v1/models` | ListModelsResponse |
| GetModel | `GET /v1/models/{name}?version=N` | ModelStatus |
| Predict | `POST /v1/models/{model}:predict` | PredictRequest -> PredictResponse |
| PredictStream | `POST /v1/models/{model}:stream` | PredictRequest -> events (SSE) |

Each server-sent event of a stream is one PredictStreamResponse.

Bodies and answers are protobuf JSON (`google.protobuf.json_format`: lowerCamelCase names,
64-bit integers as strings; either field spelling is accepted); the path's model wins over
one in the body. Requests go through the same admission (`InferenceCore.admit`,
`predict_request`) and core as gRPC.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from seqserve.server.api.http import sse
from seqserve.server.api.http.body import BodyReader, check_json_type
from seqserve.server.api.http.observe import name_call
from seqserve.server.api.http.timeout import time_remaining
from seqserve.server.api.v1 import convert
from seqserve.server.core import InferenceCore, PredictAnswer
from seqserve.server.errors import InvalidInput
from seqserve.server.results import StreamEvent, SymbolEvent
from seqserve.server.validation import ValidPredict
from seqserve.v1 import seqserve_pb2 as pb


class V1Routes:
    def __init__(self, core: InferenceCore, body: BodyReader) -> None:
        self._core = core
        self._body = body

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{model}:predict", self.predict, methods=["POST"]),
            Route("/v1/models/{model}:stream", self.stream, methods=["POST"]),
            Route("/v1/models/{model}", self.get_model, methods=["GET"]),
        ]

    async def list_models(self, request: Request) -> Response:
        name_call("ListModels")
        states = self._core.states()
        return _json(pb.ListModelsResponse(models=[convert.model_status(s) for s in states]))

    async def get_model(self, request: Request) -> Response:
        name = request.path_params["model"]
        name_call("GetModel", name)
        version = request.query_params.get("version", "0")
        if not version.isdigit():
            raise InvalidInput(f"version must be a whole number; got {version!r}")
        return _json(convert.model_status(self._core.state(name, int(version))))

    async def predict(self, request: Request) -> Response:
        message = await self._request(request, "Predict")
        answer = await self._core.predict(self._admitted(message, request))
        return _json(convert.answer(answer))

    async def stream(self, request: Request) -> Response:
        message = await self._request(request, "PredictStream")
        events = self._core.stream(self._admitted(message, request))
        return await sse.respond(_stream_messages(events))

    def _admitted(self, message: pb.PredictRequest, request: Request) -> ValidPredict:
        model = self._core.admit(message.model, message.version)
        return self._core.predict_request(model, message.inputs, time_remaining(request))

    async def _request(self, request: Request, method: str) -> pb.PredictRequest:
        name = request.path_params["model"]
        name_call(method, name)
        check_json_type(request)
        body = await self._body.read(request)
        message = pb.PredictRequest()
        try:
            json_format.Parse(body or b"{}", message)
        except json_format.ParseError as exc:
            raise InvalidInput(f"body is not a seqserve.v1.PredictRequest in JSON: {exc}") from None
        message.model = name
        return message


def _dict(message: Message) -> dict[str, Any]:
    found: dict[str, Any] = json_format.MessageToDict(message)
    return found


def _json(message: Message) -> Response:
    return JSONResponse(_dict(message))


async def _stream_messages(
    events: AsyncGenerator[StreamEvent | PredictAnswer, None],
) -> AsyncIterator[dict[str, Any]]:
    try:
        async for event in events:
            if isinstance(event, PredictAnswer):
                yield _dict(pb.PredictStreamResponse(result=convert.answer(event)))
            elif isinstance(event, SymbolEvent):
                yield _dict(convert.symbol(event))
    finally:
        await events.aclose()
