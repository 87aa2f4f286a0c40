"""The gRPC server factory: both front-ends, grpc.health.v1 and reflection on one port.

The interceptor chain is built here (`interceptors`), and every service is registered
through `plumbing.Registration`, which gives each method the malformed-request guard.
"""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from seqserve.server.api import kserve
from seqserve.server.api.auth import TokenAuthInterceptor, load_tokens
from seqserve.server.api.observe import ObserveInterceptor
from seqserve.server.api.plumbing import Registration
from seqserve.server.api.tls import server_credentials
from seqserve.server.api.v1.servicer import SeqServeServicer
from seqserve.server.core import InferenceCore
from seqserve.server.settings import Settings
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["SeqServe"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def create_server(
    settings: Settings, core: InferenceCore
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """A bound (not yet started) server; port 0 picks a free port, returned here.

    Health starts NOT_SERVING for "" and for the seqserve.v1 service; the caller flips it
    once the models are loaded.
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
    kserve.add_to_server(services, core)  # inference.GRPCInferenceService, same core
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, services)
    names = (SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
    if settings.reflection:
        reflecting = reflection.aio.ReflectionServicer((*names, reflection.SERVICE_NAME))
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflecting, services)
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
    and logged too), then token auth when tokens are configured."""
    access = logging.INFO if settings.log_access else logging.DEBUG
    chain: list[grpc.aio.ServerInterceptor] = [ObserveInterceptor(access)]
    tokens = load_tokens(settings)
    if tokens:
        chain.append(TokenAuthInterceptor(tokens))
    return chain


async def set_health(servicer: health.aio.HealthServicer, serving: bool) -> None:
    status = SERVING if serving else NOT_SERVING
    for name in ("", SERVICE):
        await servicer.set(name, status)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
