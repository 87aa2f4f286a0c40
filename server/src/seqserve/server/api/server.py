"""The gRPC server factory: both front-ends, grpc.health.v1 and reflection on one port.

The interceptor chain is built here (`interceptors`), and every service is registered
through `plumbing.Registration`, which gives each method the malformed-request guard.
"""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health_pb2_grpc

from seqserve.server.api import kserve
from seqserve.server.api.auth import TokenAuthInterceptor, load_admin_tokens, load_tokens
from seqserve.server.api.control import ModelControlServicer
from seqserve.server.api.discovery import HealthServicer, enable_reflection
from seqserve.server.api.kserve.messages import pb as kserve_pb
from seqserve.server.api.observe import ObserveInterceptor
from seqserve.server.api.plumbing import Registration
from seqserve.server.api.tls import server_credentials
from seqserve.server.api.v1.servicer import SeqServeServicer
from seqserve.server.core import InferenceCore
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
    server = grpc.aio.server(
        interceptors=interceptors(settings),
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
        ],
    )
    services = Registration(server)
    pb_grpc.add_SeqServeServicer_to_server(SeqServeServicer(core), services)  # type: ignore[no-untyped-call]
    pb_grpc.add_ModelControlServicer_to_server(ModelControlServicer(control), services)  # type: ignore[no-untyped-call]
    kserve.add_to_server(services, core, control)  # inference.GRPCInferenceService, same core
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, services)
    if settings.reflection:
        enable_reflection(services, API)
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


def interceptors(settings: Settings) -> list[grpc.aio.ServerInterceptor]:
    """The chain every call passes: observe first (outermost, so refused calls are counted
    and logged too), then token auth when tokens or admin tokens are configured."""
    access = logging.INFO if settings.log_access else logging.DEBUG
    chain: list[grpc.aio.ServerInterceptor] = [ObserveInterceptor(access)]
    tokens, admin = load_tokens(settings), load_admin_tokens(settings)
    if tokens or admin:
        chain.append(TokenAuthInterceptor(tokens, admin))
    return chain


async def set_health(servicer: HealthServicer, serving: bool) -> None:
    await servicer.set_all(SERVICES, serving)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
