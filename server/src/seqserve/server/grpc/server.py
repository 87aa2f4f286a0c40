"""The gRPC server factory: seqserve.v1, grpc.health.v1 and reflection on one port."""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health_pb2_grpc

from seqserve.server.core import InferenceCore
from seqserve.server.grpc import kserve
from seqserve.server.grpc.auth import TokenAuthInterceptor, load_admin_tokens, load_tokens
from seqserve.server.grpc.control import ModelControlServicer
from seqserve.server.grpc.discovery import HealthServicer, enable_reflection
from seqserve.server.grpc.kserve.messages import pb as kserve_pb
from seqserve.server.grpc.malformed import MalformedRequestInterceptor
from seqserve.server.grpc.observe import ObserveInterceptor
from seqserve.server.grpc.servicer import SeqServeServicer
from seqserve.server.grpc.tls import server_credentials
from seqserve.server.repository.control import ModelControl
from seqserve.server.settings import Settings
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

API = (
    pb.DESCRIPTOR.services_by_name["SeqServe"],
    pb.DESCRIPTOR.services_by_name["ModelControl"],
    kserve_pb.DESCRIPTOR.services_by_name["GRPCInferenceService"],
)
SERVICE = API[0].full_name
SERVICES = tuple(service.full_name for service in API)  # what health answers for


def create_server(
    settings: Settings, core: InferenceCore, control: ModelControl
) -> tuple[grpc.aio.Server, int, HealthServicer]:
    """A bound (not yet started) server; port 0 picks a free port, returned here.

    Health starts NOT_SERVING for "" and for every served API; the caller flips it once the
    models are loaded.
    """
    limit = settings.max_message_bytes
    tokens = load_tokens(settings)
    admin = load_admin_tokens(settings)
    access = logging.INFO if settings.log_access else logging.DEBUG
    interceptors: list[grpc.aio.ServerInterceptor]
    if tokens or admin:  # observe first (outermost), then auth, then the malformed-bytes guard
        interceptors = [
            ObserveInterceptor(access),
            TokenAuthInterceptor(tokens, admin),
            MalformedRequestInterceptor(),
        ]
    else:  # one layer per call: observe also guards against malformed bytes
        interceptors = [ObserveInterceptor(access, guard_malformed=True)]
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
        ],
    )
    pb_grpc.add_SeqServeServicer_to_server(SeqServeServicer(core), server)  # type: ignore[no-untyped-call]
    pb_grpc.add_ModelControlServicer_to_server(ModelControlServicer(control), server)  # type: ignore[no-untyped-call]
    kserve.add_to_server(server, core, control)  # inference.GRPCInferenceService, same core
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        enable_reflection(server, API)
    address = f"{_host(settings.host)}:{settings.port}"
    credentials = server_credentials(settings)
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError:  # grpc's "Failed to bind": the port is taken or not ours to use
        port = 0
    if port == 0:
        raise OSError(f"cannot bind {address}: is the port in use or privileged?")
    return server, port, health_servicer


async def set_health(servicer: HealthServicer, serving: bool) -> None:
    await servicer.set_all(SERVICES, serving)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
