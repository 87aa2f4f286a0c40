"""How the client reaches servers: targets, channel options, service config, TLS, token.

- A target is `host:port`, several of them comma-separated (`"a:50051,b:50051"`: each
  host is resolved once, here, into a static `ipv4:`/`ipv6:` address list), or any gRPC
  target URI passed through unchanged (`dns:///seqserve-headless:50051`, `unix:...`).
- Calls are spread over every address with the `round_robin` policy; idempotent calls
  (ListModels, GetModel, Predict, PredictStream, health) are retried by gRPC itself
  (service config `retryPolicy`) on UNAVAILABLE (a server shutting down refuses new calls
  so) and on CANCELLED from the server (a call a stopping server had received but not
  started), so a replica restarting or dying mid-call is not seen by the caller. Session
  streams hold server-side state and are never retried.
  With `wait_for_ready=True` those calls also wait (within their deadline) while no
  server accepts connections, which rides out a single server's restart.
- A client keeps at most `MAX_CALLS_IN_FLIGHT` Predict/PredictStream calls in flight;
  further ones wait in the client, so its connection stays below the server's
  per-connection stream limit and no call is refused at the transport.
- Keepalive pings detect dead connections on long idle streams (sessions); their
  interval stays at the gRPC server's default minimum so servers never reject them.
- TLS: `tls=True` uses the system roots; a `TLS` (or a CA path) sets the roots, and a
  client certificate and key for mutual TLS. The token travels as
  `authorization: Bearer <token>` call metadata (which works with or without TLS).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import grpc
import grpc.aio

from seqserve.client._errors import SeqServeError

SERVICE = "seqserve.v1.SeqServe"
HEALTH_SERVICE = "grpc.health.v1.Health"
IDEMPOTENT_METHODS = ("ListModels", "GetModel", "Predict", "PredictStream")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
KEEPALIVE_MS = 300_000  # = the default grpc.http2.min_ping_interval_without_data_ms of servers
KEEPALIVE_TIMEOUT_MS = 20_000
RETRY_ATTEMPTS = 5
# Predict/PredictStream calls one client keeps in flight; more wait in the client. Below the
# server's per-connection stream limit (--max-streams-per-connection, 100 by default): a
# server refuses a new stream (REFUSED_STREAM) while it still holds as many as that, which
# includes streams the caller already saw end, so a connection filled to the limit has
# some of its calls refused.
MAX_CALLS_IN_FLIGHT = 64

PathOrBytes: TypeAlias = "str | os.PathLike[str] | bytes"
Metadata: TypeAlias = "tuple[tuple[str, str], ...]"


@dataclass(frozen=True)
class TLS:
    """Transport security settings.

    `ca`: root certificates (PEM path or bytes); None uses the system roots.
    `cert`, `key`: the client certificate chain and private key, for mutual TLS.
    `server_name`: the name to verify in the server certificate when it differs from
    the target's host (e.g. connecting by IP address).
    """

    ca: PathOrBytes | None = None
    cert: PathOrBytes | None = None
    key: PathOrBytes | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        if (self.cert is None) != (self.key is None):
            raise SeqServeError("TLS: a client certificate and its key go together")
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca),
            private_key=_read(self.key),
            certificate_chain=_read(self.cert),
        )


TLSOption: TypeAlias = "TLS | bool | str | os.PathLike[str] | None"


def as_tls(tls: TLSOption) -> TLS | None:
    """`tls=` as given by a caller -> settings: None/False plaintext, True system roots,
    a path the CA file, or a `TLS`."""
    if tls is None or tls is False:
        return None
    if tls is True:
        return TLS()
    if isinstance(tls, TLS):
        return tls
    return TLS(ca=tls)


def _read(source: PathOrBytes | None) -> bytes | None:
    if source is None or isinstance(source, bytes):
        return source
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise SeqServeError(f"cannot read {os.fspath(source)}: {exc.strerror}") from None


def service_config(wait_for_ready: bool = False) -> str:
    """round_robin over every address; retry idempotent calls on UNAVAILABLE and CANCELLED.

    `wait_for_ready`: idempotent calls wait (within their deadline) for a server to accept
    connections instead of failing at once while none does, e.g. during a restart.
    """
    retry = {
        "maxAttempts": RETRY_ATTEMPTS,
        "initialBackoff": "0.05s",
        "maxBackoff": "1s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"],
    }
    names = [{"service": SERVICE, "method": m} for m in IDEMPOTENT_METHODS]
    health = [{"service": HEALTH_SERVICE}]
    methods: list[dict[str, object]] = [{"name": health, "retryPolicy": retry}]
    if wait_for_ready:
        methods.append({"name": names, "retryPolicy": retry, "waitForReady": True})
    else:
        methods[0]["name"] = names + health
    return json.dumps({"loadBalancingConfig": [{"round_robin": {}}], "methodConfig": methods})


def channel_options(
    target: str, tls: TLS | None, wait_for_ready: bool = False
) -> list[tuple[str, str | int]]:
    options: list[tuple[str, str | int]] = [
        ("grpc.service_config", service_config(wait_for_ready)),
        ("grpc.enable_retries", 1),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", KEEPALIVE_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.max_pings_without_data", 0),
    ]
    authority = _authority(target)
    if tls is not None and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    elif authority is not None:
        options.append(("grpc.default_authority", authority))
    return options


def resolve_target(target: str) -> str:
    """The gRPC target for a user's target string (see the module docstring)."""
    target = target.strip()
    if not target:
        raise SeqServeError("empty target; expected host:port")
    if "," not in target:
        return target
    if "://" in target or target.split(":", 1)[0] in ("dns", "ipv4", "ipv6", "unix"):
        return target
    addresses = [_resolve(part.strip()) for part in target.split(",") if part.strip()]
    v4 = [a for a, family in addresses if family == 4]
    if len(v4) == len(addresses):
        return "ipv4:" + ",".join(v4)
    v6 = [a for a, family in addresses if family == 6]
    if len(v6) == len(addresses):
        return "ipv6:" + ",".join(v6)
    raise SeqServeError(f"cannot mix IPv4 and IPv6 addresses in one target: {target}")


def _split_host_port(part: str) -> tuple[str, str]:
    host, sep, port = part.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SeqServeError(f"bad target {part!r}; expected host:port")
    return host.strip("[]"), port


def _resolve(part: str) -> tuple[str, int]:
    host, port = _split_host_port(part)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            found = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except OSError as exc:
            raise SeqServeError(f"cannot resolve {host}: {exc}") from None
        v4 = [info[4][0] for info in found if info[0] == socket.AF_INET]
        ip = ipaddress.ip_address(str(v4[0] if v4 else found[0][4][0]))
    if ip.version == 4:
        return f"{ip}:{port}", 4
    return f"[{ip}]:{port}", 6


def _authority(target: str) -> str | None:
    """For a host-name list, the first host (what TLS verifies and the server sees)."""
    if "," not in target or "://" in target:
        return None
    first = target.split(",", 1)[0].strip()
    if first.split(":", 1)[0] in ("dns", "ipv4", "ipv6", "unix"):
        return None
    try:
        ipaddress.ip_address(_split_host_port(first)[0])
    except ValueError:
        return first
    return None


def sync_channel(target: str, tls: TLSOption, wait_for_ready: bool = False) -> grpc.Channel:
    settings = as_tls(tls)
    address = resolve_target(target)
    options = channel_options(target, settings, wait_for_ready)
    if settings is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, settings.credentials(), options=options)


def aio_channel(target: str, tls: TLSOption, wait_for_ready: bool = False) -> grpc.aio.Channel:
    settings = as_tls(tls)
    address = resolve_target(target)
    options = channel_options(target, settings, wait_for_ready)
    if settings is None:
        return grpc.aio.insecure_channel(address, options=options)
    return grpc.aio.secure_channel(address, settings.credentials(), options=options)


def call_metadata(token: str | None) -> Metadata:
    """Metadata sent with every call: the bearer token, when there is one."""
    if not token:
        return ()
    return (("authorization", f"Bearer {token.strip()}"),)
