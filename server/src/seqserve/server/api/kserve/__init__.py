"""The Open Inference Protocol (KServe v2, Triton gRPC): `inference.GRPCInferenceService`.

`add_to_server(server, core)` serves it beside seqserve.v1, on the same port and core.
Modules: `messages` (the protocol's classes, from a private descriptor pool), `tensors`
(the tensors each manifest maps to), `inputs` and `outputs` (tensor encoding),
`sequences` (the sequence extension over the session store), `describe` (metadata,
config, repository index), `stats` (ModelStatistics), `servicer` (the thin servicer).
"""

from __future__ import annotations

from typing import Any

import grpc

from seqserve.server.api.kserve.infer import Inference
from seqserve.server.api.kserve.messages import SERVICE, pb
from seqserve.server.api.kserve.servicer import KServeServicer
from seqserve.server.api.plumbing import Registration
from seqserve.server.core import InferenceCore
from seqserve.server.repository.control import ModelControl

_UNARY: dict[str, tuple[Any, Any]] = {
    "ServerLive": (pb.ServerLiveRequest, pb.ServerLiveResponse),
    "ServerReady": (pb.ServerReadyRequest, pb.ServerReadyResponse),
    "ModelReady": (pb.ModelReadyRequest, pb.ModelReadyResponse),
    "ServerMetadata": (pb.ServerMetadataRequest, pb.ServerMetadataResponse),
    "ModelMetadata": (pb.ModelMetadataRequest, pb.ModelMetadataResponse),
    "ModelInfer": (pb.ModelInferRequest, pb.ModelInferResponse),
    "ModelConfig": (pb.ModelConfigRequest, pb.ModelConfigResponse),
    "ModelStatistics": (pb.ModelStatisticsRequest, pb.ModelStatisticsResponse),
    "RepositoryIndex": (pb.RepositoryIndexRequest, pb.RepositoryIndexResponse),
    "RepositoryModelLoad": (pb.RepositoryModelLoadRequest, pb.RepositoryModelLoadResponse),
    "RepositoryModelUnload": (pb.RepositoryModelUnloadRequest, pb.RepositoryModelUnloadResponse),
}


def method_handlers(servicer: Any) -> dict[str, grpc.RpcMethodHandler]:
    """The service's method handlers for any object with its methods (the do-nothing
    benchmark server registers its own through this too)."""
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, name),
            request_deserializer=request.FromString,
            response_serializer=response.SerializeToString,
        )
        for name, (request, response) in _UNARY.items()
        if hasattr(servicer, name)  # a stand-in servicer may leave repository control out
    }
    handlers["ModelStreamInfer"] = grpc.stream_stream_rpc_method_handler(
        servicer.ModelStreamInfer,
        request_deserializer=pb.ModelInferRequest.FromString,
        response_serializer=pb.ModelStreamInferResponse.SerializeToString,
    )
    return handlers


def add_to_server(
    server: Registration,
    core: InferenceCore,
    control: ModelControl,
    inference: Inference | None = None,
) -> KServeServicer:
    """Register the servicer for `core` on `server` (before it starts); `inference`: the
    sequences and statistics it shares with the HTTP port."""
    servicer = KServeServicer(core, control, inference)
    handlers = method_handlers(servicer)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
    return servicer


__all__ = ["SERVICE", "KServeServicer", "add_to_server", "method_handlers"]
