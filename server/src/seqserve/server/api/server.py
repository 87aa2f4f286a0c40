"""The gRPC server factory: both front-ends, grpc.health.v1 and reflection on one port.

The interceptor chain is built here (`interceptors`), and every service is registered
through `plumbing.Registration`, which gives each method the malformed-request guard.
"""

from __future__ import annotations

import logging
import socket

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from seqserve.server.api import kserve
from seqserve.server.api.auth import TokenAuthInterceptor, load_tokens
from seqserve.server.api.kserve.infer import Inference
from seqserve.server.api.observe import ObserveInterceptor
from seqserve.server.api.plumbing import Registration
from seqserve.server.api.tls import server_credentials
from seqserve.server.api.v1.servicer import SeqServeServicer
from seqserve.server.core import InferenceCore
from seqserve.server.settings import Settings
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["SeqServe"].full_name
MAX_REQUESTS_PER_READ = 16
MIN_PING_INTERVAL_MS = 300_000  # grpc core's default, stated: clients keep alive at it
MAX_PING_STRIKES = 2
HANDSHAKE_TIMEOUT_MS = 10_000
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def create_server(
    settings: Settings, core: InferenceCore, inference: Inference | None = None
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """A bound (not yet started) server; port 0 picks a free port, returned here.

    Health starts NOT_SERVING for "" and for the seqserve.v1 service; the caller flips it
    once the models are loaded.
    """
    server = grpc.aio.server(
        interceptors=interceptors(settings),
        options=transport_options(settings),
    )
    services = Registration(server)
    pb_grpc.add_SeqServeServicer_to_server(SeqServeServicer(core), services)  # type: ignore[no-untyped-call]
    kserve.add_to_server(services, core, inference)  # inference.GRPCInferenceService, same core
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, services)
    names = (SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
    if settings.reflection:
        reflecting = reflection.aio.ReflectionServicer((*names, reflection.SERVICE_NAME))
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflecting, services)
    port = _bind(server, settings)
    return server, port, health_servicer


def transport_options(settings: Settings) -> list[tuple[str, int]]:
    """grpc core's limits on what one connection may cost before any Python code runs.

    - Message sizes: `max_message_bytes` both ways.
    - Streams: at most `max_streams_per_connection` open per connection. With overload
      protection (on by default in grpc core, set here so it stays on) a stream the peer
      has reset still counts until the server has finished with it, so resetting streams
      at once (HTTP/2 "rapid reset") cannot hold more than that many in progress; excess
      streams are refused with REFUSED_STREAM by the transport.
    - New streams taken per read of the socket: a small number, so one connection's burst
      yields to the others between reads.
    - Pings: a peer pinging more often than every `MIN_PING_INTERVAL_MS` without data gets
      strikes, and GOAWAY after `MAX_PING_STRIKES`.
    - A connection must finish its handshake (TLS, HTTP/2 preface) within
      `HANDSHAKE_TIMEOUT_MS`.
    """
    limit = settings.max_message_bytes
    return [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.so_reuseport", 0),
        ("grpc.max_concurrent_streams", settings.max_streams_per_connection),
        ("grpc.http.overload_protection", 1),
        ("grpc.http2.max_requests_per_read", MAX_REQUESTS_PER_READ),
        ("grpc.http2.min_ping_interval_without_data_ms", MIN_PING_INTERVAL_MS),
        ("grpc.http2.max_ping_strikes", MAX_PING_STRIKES),
        ("grpc.server_handshake_timeout_ms", HANDSHAKE_TIMEOUT_MS),
    ]


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


def _bind(server: grpc.aio.Server, settings: Settings) -> int:
    """Bind every address `settings.host` stands for on one port; returns the port.

    `localhost` is both loopbacks, 127.0.0.1 and ::1 (where this host has IPv6): bound on
    one of them only, a second server could take the same port on the other, and callers
    would reach one or the other by chance. Any address that cannot be bound fails the start.
    """
    hosts = _loopbacks() if settings.host == "localhost" else [settings.host]
    credentials = server_credentials(settings)
    port = settings.port
    for host in hosts:
        address = f"{_host(host)}:{port}"
        try:
            if credentials is None:
                bound = server.add_insecure_port(address)
            else:
                bound = server.add_secure_port(address, credentials)
        except RuntimeError:  # grpc's "Failed to bind": the port is taken or not ours to use
            bound = 0
        if bound == 0:
            raise OSError(f"cannot bind {address}: is the port in use or privileged?")
        port = bound
    return port


def _loopbacks() -> list[str]:
    """The loopback addresses `localhost` means here: 127.0.0.1, and ::1 when usable."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return ["127.0.0.1"]
    return ["127.0.0.1", "::1"]


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
